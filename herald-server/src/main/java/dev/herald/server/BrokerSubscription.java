package dev.herald.server;

import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One subscription of a {@link Broker}: the state machine behind the exact replay-to-live hand-off.
 *
 * <p>It starts in {@code REPLAY}. While replaying, live events from the log's listener are buffered
 * (bounded) and history is written page by page from a replay thread; then the buffer is drained,
 * skipping ids already written, and the subscription turns {@code LIVE}, where the listener's
 * thread writes each event directly. A live-only subscription has no history: it buffers only until
 * the broker has read where it starts ({@link #startLive}), and skips every event up to there.
 * Every call to the sink happens under this object's monitor, so the sink is never called
 * concurrently, and {@code closed} is called exactly once, by whichever thread ends the
 * subscription first. A monitor rather than a {@code ReentrantLock}: one per stream, it costs no
 * objects (a lock and its synchronizer are about 48 bytes per idle stream), and taking it writes no
 * reference into the heap, where a lock records its owner thread on every acquisition; under G1
 * each such write into an old object leaves a card for the refinement threads to scan, once per
 * stream per event.
 */
final class BrokerSubscription implements Subscription {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  static final int SKIPPED = 0;
  static final int BUFFERED = 1;
  static final int DELIVERED = 2;

  private static final int REPLAY = 0;
  private static final int LIVE = 1;
  private static final int CLOSED = 2;

  /** The heartbeat comment; shared by every sink, like event frames. */
  private static final byte[] HEARTBEAT = {':', '\n'};

  /** Live events drained per lock hold at hand-off, so publishers never wait long on it. */
  private static final int DRAIN_CHUNK = 64;

  private static final long MAX_PAUSE_MILLIS = 1000;

  private final Broker broker;
  private final Set<String> topics;
  private final Position position;
  private final Sink sink;
  private final CursorKey device;
  private final long cursorBase;
  private final java.time.Instant since;
  // Names this device stream in the broker's Presence; empty for other subscriptions.
  private final String token;
  private final java.util.concurrent.atomic.AtomicBoolean opened =
      new java.util.concurrent.atomic.AtomicBoolean();
  // The cursor last handed to the log; only the broker's scheduler thread touches it.
  volatile long savedCursor;
  private final String[] topicList;

  // Guarded by this; phase is also read without it as a fast path.
  private volatile int phase;
  private ArrayDeque<StoredEvent> buffer;
  private long lastOffered;
  private long lastWritten;
  // A live-only subscription skips events up to here (see startLive); 0 for the others.
  private long liveAfter;
  private boolean sentSinceTick;
  private int idleTicks;
  private final int heartbeatSlot;

  // Replay state: touched by one replay step at a time (each step submits the next).
  private boolean started;
  private long cursor;
  private boolean firstPage = true;
  private boolean checkExpired;
  private long bufferedAfter;
  private long[] droppedSeen;
  private long pauseMillis;

  BrokerSubscription(Broker broker, Set<String> topics, Position position, Sink sink) {
    this(broker, topics, position, sink, null, 0);
  }

  /**
   * A subscription of a device ({@code device} non-null), whose cursor starts at {@code
   * cursorBase}: what the device has without this stream writing anything.
   */
  BrokerSubscription(
      Broker broker,
      Set<String> topics,
      Position position,
      Sink sink,
      CursorKey device,
      long cursorBase) {
    this.device = device;
    this.cursorBase = cursorBase;
    // Milliseconds, like event timestamps: the same on every node that lists it.
    this.since = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    this.token = device == null ? "" : broker.nextToken();
    this.broker = broker;
    this.topics = topics;
    this.position = position;
    this.sink = sink;
    this.topicList = topics.toArray(new String[0]);
    this.heartbeatSlot = broker.nextHeartbeatSlot();
    // Live-only too: until startLive, what is offered may be older than where it starts.
    phase = REPLAY;
    buffer = new ArrayDeque<>();
  }

  @Override
  public Set<String> topics() {
    return topics;
  }

  /** The device and topic set, for a device's stream; null otherwise. */
  CursorKey device() {
    return device;
  }

  /** When the subscription opened. */
  java.time.Instant since() {
    return since;
  }

  /** Names this device stream among the broker's streams of its key. */
  String token() {
    return token;
  }

  /** Whether {@link #opened} was called. */
  boolean wasOpened() {
    return opened.get();
  }

  @Override
  public void opened() {
    if (device == null || !opened.compareAndSet(false, true)) {
      return;
    }
    BrokerSubscription older;
    synchronized (this) {
      if (phase == CLOSED) {
        return;
      }
      // Under the lock: an unregister (which runs under it) comes after, and undoes this.
      older = broker.takeDevicePlace(this);
    }
    // Outside it: two streams of one device opening at once must not wait on each other's lock.
    if (older != null) {
      older.close(CloseReason.REPLACED);
    }
  }

  /**
   * The id of the last event the device has from this stream: the last one handed to the sink, or
   * where the stream started; 0 if neither is known.
   */
  long deviceCursor() {
    synchronized (this) {
      return Math.max(cursorBase, lastWritten);
    }
  }

  @Override
  public boolean isOpen() {
    return phase != CLOSED;
  }

  @Override
  public void close() {
    close(CloseReason.CLIENT_CLOSED);
  }

  @Override
  public void close(CloseReason reason) {
    Objects.requireNonNull(reason, "reason");
    synchronized (this) {
      if (phase != CLOSED) {
        closeLocked(reason);
      }
    }
  }

  /**
   * Ends the subscription without telling the sink, if nobody ended it yet: for a subscribe that
   * raced with the broker's shutdown and reports it by throwing instead.
   */
  boolean abandon() {
    synchronized (this) {
      if (phase == CLOSED) {
        return false;
      }
      phase = CLOSED;
      buffer = null;
      broker.unregister(this);
      broker.listener().subscriptionClosed(CloseReason.SHUTDOWN);
      return true;
    }
  }

  /**
   * Starts a live-only subscription, once registered for all its topics: {@code after} is the
   * newest id read since, so every later event is offered to it, and it gets exactly those (a
   * contiguous run in id order), never one announced late from before it started. Returns whether
   * events buffered meanwhile remain to be written, by {@link #replayStep} on a broker thread
   * (never on the subscribing thread).
   */
  boolean startLive(long after) {
    synchronized (this) {
      if (phase != REPLAY) {
        return false;
      }
      liveAfter = after;
      // The buffer is in id order.
      while (!buffer.isEmpty() && buffer.peek().id() <= after) {
        buffer.poll();
      }
      if (!buffer.isEmpty()) {
        return true;
      }
      phase = LIVE;
      buffer = null;
      return false;
    }
  }

  /** Called by the log's listener, in id order, once per topic of the event this covers. */
  int offer(StoredEvent event) {
    if (phase == CLOSED) {
      return SKIPPED;
    }
    synchronized (this) {
      long id = event.id();
      if (phase == CLOSED || id <= lastOffered) {
        // Already offered through another of its topics.
        return SKIPPED;
      }
      lastOffered = id;
      if (phase == REPLAY) {
        if (buffer.size() >= broker.maxBufferedEvents()) {
          closeLocked(CloseReason.SLOW_CONSUMER);
          return SKIPPED;
        }
        buffer.add(event);
        return BUFFERED;
      }
      if (id <= lastWritten || id <= liveAfter) {
        return SKIPPED;
      }
      return write(event) ? DELIVERED : SKIPPED;
    }
  }

  /** Sends a heartbeat when nothing was written for two ticks. */
  int heartbeatSlot() {
    return heartbeatSlot;
  }

  void heartbeatTick() {
    if (phase == CLOSED) {
      return;
    }
    synchronized (this) {
      if (phase == CLOSED) {
        return;
      }
      if (sentSinceTick) {
        sentSinceTick = false;
        idleTicks = 0;
        return;
      }
      if (++idleTicks >= 2) {
        idleTicks = 0;
        sendFrame(HEARTBEAT);
      }
    }
  }

  /**
   * One step of the replay: a page of history, or the hand-off to live. Runs on a broker thread.
   */
  void replayStep() {
    if (phase == CLOSED) {
      return;
    }
    EventLog log = broker.log();
    try {
      if (!started) {
        started = true;
        if (position.kind() == Position.Kind.LIVE) {
          handOff(); // no history: only the events buffered before startLive
          return;
        }
        if (!begin(log)) {
          return;
        }
      }
      if (!sink.writable()) {
        pauseMillis = pauseMillis == 0 ? 5 : Math.min(MAX_PAUSE_MILLIS, pauseMillis * 2);
        broker.replayLater(this, pauseMillis);
        return;
      }
      pauseMillis = 0;
      int pageSize = broker.replayPageSize();
      List<StoredEvent> page = log.readAfter(topics, cursor, pageSize);
      // Checked after the read: retention drops oldest first, so if nothing after the cursor is
      // dropped now, nothing was when the page was read, and the page starts right at the cursor.
      long[] dropped = droppedPerTopic(log);
      if (checkExpired) {
        checkExpired = false;
        if (max(dropped) > cursor) {
          if (sendReset("expired")) {
            // All retained history follows the reset, including what the client may have had.
            cursor = 0;
            firstPage = true;
            synchronized (this) {
              lastWritten = 0;
            }
            broker.replay(this);
          }
          return;
        }
      } else if (!firstPage && fellBehind(dropped)) {
        // Retention dropped events this replay had not reached yet: the client resumes with its
        // last event id and learns of the gap from a reset.
        LOG.log(
            System.Logger.Level.DEBUG,
            "replay fell behind retention on {0}; closing so the client resumes",
            topics);
        close(CloseReason.SLOW_CONSUMER);
        return;
      }
      droppedSeen = dropped;
      firstPage = false;
      for (int i = 0, n = page.size(); i < n; i++) {
        if (!writeHistory(page.get(i))) {
          return;
        }
        if (i + 1 < n && !sink.writable()) {
          // A page can hold many times the transport's bound: pause inside it, not only between.
          cursor = page.get(i).id();
          broker.listener().replayed(i + 1);
          pauseMillis = 5;
          broker.replayLater(this, pauseMillis);
          return;
        }
      }
      if (!page.isEmpty()) {
        cursor = page.get(page.size() - 1).id();
        broker.listener().replayed(page.size());
      }
      if (page.size() < pageSize) {
        handOff();
      } else {
        broker.replay(this);
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "replay failed for " + topics, e);
      close(CloseReason.ERROR);
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
   * Whether retention dropped, since the last page, an event this replay has not read and that the
   * live buffer may not hold. Per topic, because an old drop in one topic (before the replay began)
   * must neither trip nor mask a new one in another. Events appended after the replay began are in
   * the live buffer, so drops are harmless once the cursor has passed {@link #bufferedAfter}.
   */
  private boolean fellBehind(long[] dropped) {
    if (cursor >= bufferedAfter) {
      return false;
    }
    for (int i = 0; i < dropped.length; i++) {
      if (dropped[i] > droppedSeen[i] && dropped[i] > cursor) {
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

  /** Decides where history starts; sends a reset if the position cannot be honoured. */
  private boolean begin(EventLog log) {
    // Read after registering: every event with a higher id is announced later, so buffered.
    bufferedAfter = log.lastId();
    switch (position.kind()) {
      case EARLIEST:
        cursor = 0;
        return true;
      case UNKNOWN:
        cursor = 0;
        return sendReset("unknown");
      case AFTER:
        if (position.id() > bufferedAfter) {
          cursor = 0;
          return sendReset("unknown");
        }
        cursor = position.id();
        checkExpired = true;
        synchronized (this) {
          // Live events up to the position, buffered meanwhile, are ones the client already has.
          lastWritten = Math.max(lastWritten, cursor);
        }
        return true;
      default:
        throw new IllegalStateException("no replay for position " + position);
    }
  }

  private boolean sendReset(String reason) {
    String data =
        "{\"lastEventId\":" + json(position.lastEventId()) + ",\"reason\":\"" + reason + "\"}";
    byte[] frame = SseEncoder.encode(Event.builder().type("reset").data(data).build());
    synchronized (this) {
      if (phase == CLOSED) {
        return false;
      }
      sentSinceTick = true;
      return sendFrame(frame);
    }
  }

  private boolean writeHistory(StoredEvent event) {
    synchronized (this) {
      if (phase == CLOSED) {
        return false;
      }
      return event.id() <= lastWritten || write(event);
    }
  }

  /** Drains the live events buffered during replay, skipping those history already wrote. */
  private void handOff() {
    while (true) {
      int delivered = 0;
      try {
        synchronized (this) {
          if (phase == CLOSED) {
            return;
          }
          while (!buffer.isEmpty() && delivered < DRAIN_CHUNK) {
            StoredEvent event = buffer.poll();
            if (event.id() > lastWritten && event.id() > liveAfter) {
              if (!write(event)) {
                return;
              }
              delivered++;
            }
          }
          if (buffer.isEmpty()) {
            phase = LIVE;
            buffer = null;
            return;
          }
        }
      } finally {
        if (delivered > 0) {
          broker.listener().delivered(delivered);
        }
      }
    }
  }

  /** Writes an event's shared frame; under lock. False if the subscription ended. */
  private boolean write(StoredEvent event) {
    lastWritten = event.id();
    sentSinceTick = true;
    return sendFrame(event.frame());
  }

  /** Sends a frame; under lock. Closes the subscription if the sink refuses or fails. */
  private boolean sendFrame(byte[] frame) {
    boolean accepted;
    try {
      accepted = sink.send(frame);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "sink failed; closing the subscription", e);
      if (phase != CLOSED) {
        closeLocked(CloseReason.WRITE_FAILED);
      }
      return false;
    }
    if (phase == CLOSED) {
      // The sink closed it from inside send.
      return false;
    }
    if (!accepted) {
      closeLocked(CloseReason.SLOW_CONSUMER);
      return false;
    }
    return true;
  }

  private void closeLocked(CloseReason reason) {
    phase = CLOSED;
    buffer = null;
    broker.unregister(this);
    try {
      sink.closed(reason);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "sink failed while closing", e);
    }
    try {
      broker.listener().subscriptionClosed(reason);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "broker listener failed", e);
    }
  }

  /** A JSON string literal for {@code s}. */
  static String json(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }

  @Override
  public String toString() {
    return "Subscription{" + topics + " from " + position + "}";
  }
}
