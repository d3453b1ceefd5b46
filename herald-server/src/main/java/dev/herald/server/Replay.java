package dev.herald.server;

import dev.herald.server.spi.EventLog;
import java.util.List;
import java.util.Set;

/**
 * The replay of one {@link BrokerSubscription}: history page by page, then the hand-off to live. It
 * runs on the broker's replay threads, one step at a time (each step submits the next), so its
 * state needs no lock; what it shares with the subscription (the writes, the live buffer) it
 * reaches through the subscription's methods, which take the subscription's monitor.
 *
 * <p>History is read only up to where the live buffer starts ({@code bufferedAfter}); the buffer
 * holds every event after it, unless it overflowed, in which case the replay reads on from the log
 * up to the last event offered and the buffer starts anew. Every page is checked against retention:
 * a drop after the cursor is an event the stream never wrote, so the stream says {@code reset}
 * right there and goes on from the oldest retained event, which the page starts at. A position that
 * is expired already when the stream opens gets the reset of the design instead (as given, then all
 * retained history). A store that does not answer makes the step wait and run again, with the
 * stream kept open.
 */
final class Replay {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  /** Longest pause while the sink is full. */
  private static final long MAX_PAUSE_MILLIS = 1000;

  /** Longest wait between two tries of a replay whose store is unreachable. */
  private static final long MAX_STORE_RETRY_MILLIS = 2000;

  private final BrokerSubscription subscription;
  private final SubscriptionHost host;
  private final Position position;
  private final Sink sink;
  private final Set<String> topics;
  private final String[] topicList;

  private boolean started;
  // History is written (or told lost by a reset) through this id.
  private long cursor;
  // The buffer holds every event after this id; history is read up to it, no further.
  private long bufferedAfter;
  // No page checked yet: a drop found now means the position itself cannot be honoured.
  private boolean opening = true;
  // All retained history was asked for (or follows a reset): drops before it began are no gap.
  private boolean fromOldest;
  // For a stream of all retained history: per topic (topicList order), what was dropped before
  // its first read, which is no gap; null for the others.
  private long[] floor;
  private long pauseMillis;
  private long storeRetryMillis;

  Replay(BrokerSubscription subscription, SubscriptionHost host, Position position, Sink sink) {
    this.subscription = subscription;
    this.host = host;
    this.position = position;
    this.sink = sink;
    this.topics = subscription.topics();
    this.topicList = topics.toArray(new String[0]);
  }

  /** One step: a page of history, or a chunk of the hand-off to live. */
  void step() {
    EventLog log = host.log();
    try {
      if (!started) {
        if (!begin(log)) {
          return;
        }
        started = true;
      }
      if (!sink.writable()) {
        pauseMillis = pauseMillis == 0 ? 5 : Math.min(MAX_PAUSE_MILLIS, pauseMillis * 2);
        host.replayLater(subscription, pauseMillis);
        return;
      }
      pauseMillis = 0;
      if (cursor >= bufferedAfter) {
        // History is written through where the buffer starts: the buffer holds the rest.
        handOff();
      } else {
        page(log);
      }
      storeRetryMillis = 0;
    } catch (StoreUnavailableException e) {
      // The stream stays open through an outage (heartbeats keep it alive) and goes on exactly
      // where it was once the store answers; each step is safe to run again.
      if (storeRetryMillis == 0) {
        LOG.log(
            System.Logger.Level.INFO,
            "replay of {0} waits for the store: {1}",
            topics,
            e.getMessage());
      }
      storeRetryMillis =
          storeRetryMillis == 0 ? 50 : Math.min(MAX_STORE_RETRY_MILLIS, storeRetryMillis * 2);
      host.replayLater(subscription, storeRetryMillis);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "replay failed for " + topics, e);
      subscription.replayFailed(CloseReason.ERROR);
    }
  }

  /** Decides where history starts; sends a reset if the position cannot be honoured. */
  private boolean begin(EventLog log) {
    if (position.kind() == Position.Kind.LIVE) {
      // No history: only what is offered after where it starts (see startLive).
      cursor = subscription.liveFloor();
      bufferedAfter = cursor;
      return true;
    }
    // Read after registering: every event with a higher id is announced later, so buffered.
    long newest = log.lastId();
    bufferedAfter = newest;
    switch (position.kind()) {
      case EARLIEST:
        cursor = 0;
        fromOldest = true;
        return true;
      case UNKNOWN:
        cursor = 0;
        fromOldest = true;
        return subscription.sendReset(position.lastEventId(), "unknown");
      case AFTER:
        if (position.id() > newest) {
          cursor = 0;
          fromOldest = true;
          return subscription.sendReset(position.lastEventId(), "unknown");
        }
        cursor = position.id();
        // Live events up to the position, buffered meanwhile, are ones the client already has.
        subscription.writtenThrough(cursor);
        return true;
      default:
        throw new IllegalStateException("no replay for position " + position);
    }
  }

  /** Reads and writes one page of history after the cursor, up to where the buffer starts. */
  private void page(EventLog log) {
    if (opening && fromOldest) {
      // Read before the page: what is dropped by then comes before the oldest event it returns.
      floor = droppedPerTopic(log);
    }
    int pageSize = host.replayPageSize();
    List<StoredEvent> page = log.readAfter(topics, cursor, pageSize);
    // Checked after the read: retention drops oldest first, so if nothing after the cursor is
    // dropped now, nothing was when the page was read, and the page starts right at the cursor.
    long[] dropped = droppedPerTopic(log);
    if (opening) {
      opening = false;
      if (!fromOldest && position.kind() == Position.Kind.AFTER && max(dropped) > cursor) {
        // The position itself is expired: a reset, then all retained history, including what the
        // client may have had.
        if (subscription.sendReset(position.lastEventId(), "expired")) {
          cursor = 0;
          fromOldest = true;
          opening = true;
          subscription.writtenThrough(0);
          host.replay(subscription);
        }
        return;
      }
    }
    if (lostAfterCursor(dropped)) {
      // Retention dropped events this stream had not written (it replays slower than the topic
      // turns over): say so right before the gap, then go on from the oldest retained event,
      // which the page starts at. Drops past the page are found, and told, at the next page.
      long had = subscription.lastWritten();
      if (!subscription.sendReset(
          had > 0 ? Long.toString(had) : position.lastEventId(), "expired")) {
        return;
      }
    }
    int written = 0;
    boolean reachedBuffer = page.size() < pageSize;
    for (int i = 0, n = page.size(); i < n; i++) {
      StoredEvent event = page.get(i);
      if (event.id() > bufferedAfter) {
        // The buffer has it, and everything after it.
        reachedBuffer = true;
        break;
      }
      if (!subscription.writeHistory(event)) {
        return;
      }
      cursor = event.id();
      written++;
      if (i + 1 < n && !sink.writable()) {
        // A page can hold many times the transport's bound: pause inside it, not only between.
        host.listener().replayed(written);
        pauseMillis = 5;
        host.replayLater(subscription, pauseMillis);
        return;
      }
    }
    if (written > 0) {
      host.listener().replayed(written);
    }
    if (reachedBuffer) {
      cursor = Math.max(cursor, bufferedAfter);
    }
    host.replay(subscription);
  }

  /**
   * Drains the live events buffered during replay, a chunk per lock hold, pausing while the sink is
   * full; then the subscription is live. If the buffer overflowed, the replay reads on from the log
   * up to what was offered last.
   */
  private void handOff() {
    while (true) {
      switch (subscription.drainChunk()) {
        case LIVE, CLOSED:
          return;
        case REARMED:
          cursor = Math.max(cursor, Math.max(subscription.lastWritten(), subscription.liveFloor()));
          bufferedAfter = subscription.rearmedAfter();
          host.replay(subscription);
          return;
        default: // MORE
          if (!sink.writable()) {
            pauseMillis = 5;
            host.replayLater(subscription, pauseMillis);
            return;
          }
      }
    }
  }

  /** Each topic's newest dropped id, in {@link #topicList} order. */
  private long[] droppedPerTopic(EventLog log) {
    long[] dropped = new long[topicList.length];
    if (dropped.length == 1) {
      dropped[0] = log.droppedThrough(topics);
    } else {
      for (int i = 0; i < dropped.length; i++) {
        dropped[i] = log.droppedThrough(Set.of(topicList[i]));
      }
    }
    return dropped;
  }

  /**
   * Whether retention dropped an event after the cursor, other than before the stream began. Per
   * topic: an old drop in one topic (before the position) must neither trip nor mask a new one in
   * another. A topic's newest dropped id is one of its events, so a drop above the cursor is an
   * event this stream never wrote.
   */
  private boolean lostAfterCursor(long[] dropped) {
    for (int i = 0; i < dropped.length; i++) {
      if (dropped[i] > cursor && (floor == null || dropped[i] > floor[i])) {
        return true;
      }
    }
    return false;
  }

  private static long max(long[] values) {
    long max = 0;
    for (long value : values) {
      max = Math.max(max, value);
    }
    return max;
  }
}
