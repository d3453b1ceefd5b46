package dev.herald.redis;

import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.EventLog.Listener;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The announcing half of the {@link RedisEventLog}: it turns the notifications of the topics this
 * node watches ({@link WatchedTopics}) into announcements to the log's listener, once each and in
 * id order, holds this node's appends back until their barrier passed, and catches up from the
 * streams after notifications were lost (see "herald-redis" in {@code docs/design.md}).
 *
 * <p>Threads: Lettuce delivers notifications on its I/O thread, which must never block; they are
 * handed to the log's worker thread, where everything marked "on the worker" runs, in order. The
 * other methods may be called from any thread.
 */
final class Announcer {
  // The log's logger: to operators these are the log's messages.
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  /** Topics and events per read while catching up after the notification connection dropped. */
  private static final int CATCH_UP_TOPICS = 128;

  private static final int CATCH_UP_PAGE = 1000;

  private static final long CATCH_UP_RETRY_MILLIS = 250;

  private final Keys keys;
  private final Connections connections;
  private final ScheduledExecutorService worker;
  private final String target;
  private final long timeoutMillis;

  /** The log, whose streams a catch-up reads. */
  private final EventLog history;

  /** The newest id the node has seen, shared with the log (see {@link RedisEventLog}). */
  private final AtomicLong highestSeen;

  /**
   * This node's barrier channel: the publish script sends a token there after the notifications of
   * an append that waits, and they reach this node the same way, in order.
   */
  private final String barrier;

  private final AtomicLong barrierTokens = new AtomicLong();

  /** The lost channel's other message: the newest id the store gave out (see publish.lua). */
  private static final String NEWEST = "newest ";

  /**
   * Where the publish script says the store lost ids a node may have announced, and the newest id
   * it gave out.
   */
  private final String lost;

  private final WatchedTopics watched;

  private volatile Listener listener;
  private volatile boolean closed;

  // On the worker only.
  /** The newest id announced so far: anything at or below it is a repeat. */
  private long watermark;

  /** Notifications may have been lost since the connection dropped or a barrier went missing. */
  private boolean gap;

  private boolean catchUpScheduled;

  /** The newest id a catch-up found dropped above the watermark; 0 if none. */
  private long lostThrough;

  private final List<Runnable> afterCatchUp = new ArrayList<>();
  private final Map<Long, Waiting> waiting = new HashMap<>();

  /**
   * @param barrier this node's barrier channel ({@link Keys#barrier})
   * @param highestSeen the newest id the node has seen; raised by every announcement
   * @param history the log, whose streams a catch-up reads
   */
  Announcer(
      Keys keys,
      String barrier,
      Connections connections,
      AtomicLong highestSeen,
      EventLog history) {
    this.keys = keys;
    this.barrier = barrier;
    this.lost = keys.lostChannel();
    this.connections = connections;
    this.worker = connections.worker();
    this.target = connections.target();
    this.timeoutMillis = connections.timeoutMillis();
    this.highestSeen = highestSeen;
    this.history = history;
    this.watched = new WatchedTopics(keys, connections, this::subscriptionLost);
  }

  /**
   * Listens on the Pub/Sub connection and subscribes to this node's barrier channel.
   *
   * @throws StoreUnavailableException if Redis does not confirm the subscription in time
   */
  void start() {
    StatefulRedisPubSubConnection<String, String> pubSub = connections.pubSub();
    pubSub.addListener(
        new RedisPubSubAdapter<String, String>() {
          @Override
          public void message(String channel, String message) {
            // On Lettuce's I/O thread, in the order Redis sent them: hand over, never block.
            if (barrier.equals(channel)) {
              connections.execute(() -> onBarrier(message));
            } else if (lost.equals(channel)) {
              if (message.startsWith(NEWEST)) {
                // Only raises the floor of new ids (an atomic max, in any order): no hand-over, as
                // one comes after every publish call of every node.
                onNewest(message);
              } else {
                connections.execute(() -> onLost(message));
              }
            } else {
              connections.execute(() -> onNotification(message));
            }
          }
        });
    pubSub.addListener(
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
            if (handler == pubSub) {
              connections.execute(Announcer.this::onDisconnected);
            }
          }

          @Override
          public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress address) {
            if (handler == pubSub) {
              connections.execute(Announcer.this::catchUp);
            }
          }
        });
    connections.await(pubSub.async().subscribe(barrier, lost), "subscribe");
  }

  /** Sets the one listener (see {@link EventLog#listener}). */
  synchronized void listener(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    if (this.listener != null) {
      throw new IllegalStateException("the log already has a listener");
    }
    this.listener = listener;
  }

  /** See {@link RedisEventLog#watch}: never completes exceptionally. */
  CompletableFuture<Void> watch(String topic) {
    return watched.watch(topic);
  }

  /** See {@link RedisEventLog#unwatch}. */
  void unwatch(String topic) {
    watched.unwatch(topic);
  }

  /**
   * Prepares an append of {@code topics}. Only an append some local subscriber wants (this node
   * watches one of its topics) waits until its notifications were announced: it gets a barrier
   * token, which the publish script sends on {@link #barrierChannel} after the notifications.
   *
   * @return the token, or 0 if the append need not wait
   */
  long barrierFor(Set<String> topics) {
    if (!watched.any(topics)) {
      return 0;
    }
    long token = barrierTokens.incrementAndGet();
    // Queued before the script is sent, so before its barrier can arrive.
    connections.execute(() -> waiting.put(token, new Waiting()));
    return token;
  }

  /** This node's barrier channel, for the publish script. */
  String barrierChannel() {
    return barrier;
  }

  /**
   * Redis stored an append's events: completes {@code result} on the worker, so after every
   * announcement queued before, and, for an append with a barrier token, once the barrier passed.
   */
  void stored(long token, CompletableFuture<List<StoredEvent>> result, List<StoredEvent> events) {
    try {
      worker.execute(() -> replied(token, result, events));
    } catch (RejectedExecutionException closing) {
      result.complete(events); // stored; nothing more will be announced
    }
  }

  /** Stops waiting for an append's barrier: it stored nothing, or its outcome is not known. */
  void forget(long token) {
    if (token != 0) {
      connections.execute(() -> waiting.remove(token));
    }
  }

  /**
   * Stops announcing, and completes the appends still waiting for their barrier (they were stored).
   * The log then stops the worker, which runs what is queued first.
   */
  void close() {
    watched.close();
    closed = true;
    connections.execute(
        () -> {
          deferWaiting();
          releaseDeferred();
        });
  }

  /**
   * Stops hearing this node's barriers, as a failed link between Cluster nodes would. For tests.
   */
  void loseBarriers() throws Exception {
    connections
        .pubSub()
        .async()
        .unsubscribe(barrier)
        .get(timeoutMillis + 500, TimeUnit.MILLISECONDS);
  }

  /**
   * A subscription failed, or Redis is late to confirm it: its notifications may be lost, as when
   * the connection drops. The result completes once the gap is open on the worker.
   */
  private CompletableFuture<Void> subscriptionLost(String why) {
    CompletableFuture<Void> gapOpen = new CompletableFuture<>();
    try {
      worker.execute(
          () -> {
            openGap(why);
            gapOpen.complete(null);
          });
    } catch (RejectedExecutionException closing) {
      gapOpen.complete(null); // nothing is announced any more
    }
    connections.execute(this::catchUp);
    return gapOpen;
  }

  /** A notification (one or more events), on the worker, in the order Redis sent them. */
  private void onNotification(String payload) {
    if (gap || closed) {
      // The catch-up that ends the gap reads these events from their streams.
      return;
    }
    List<StoredEvent> events;
    try {
      events = Wire.notifications(payload);
    } catch (RuntimeException e) {
      // Only the publish script writes to these channels; anything else is not ours.
      LOG.log(Level.WARNING, "ignored a malformed notification on a Herald channel", e);
      return;
    }
    List<StoredEvent> fresh = new ArrayList<>(events.size());
    for (StoredEvent event : events) {
      // At or below the watermark: the same event, published to another watched topic. Not
      // watched: an unsubscribe still in flight.
      if (event.id() > watermark && watched.any(event.topics())) {
        watermark = event.id();
        fresh.add(event);
      }
    }
    if (!fresh.isEmpty()) {
      highestSeen.accumulateAndGet(watermark, Math::max);
      announce(Collections.unmodifiableList(fresh));
    }
  }

  /**
   * Not a loss: the newest id the store gave out (see publish.lua), which this node's next publish
   * stays above.
   */
  private void onNewest(String payload) {
    try {
      highestSeen.accumulateAndGet(
          Long.parseLong(payload, NEWEST.length(), payload.length(), 10), Math::max);
    } catch (NumberFormatException e) {
      // only the publish script writes to this channel
    }
  }

  /**
   * The publish script says the store lost ids up to {@code payload} (a failover to a replica that
   * lacked them; see publish.lua), on the worker, before any event with a higher id.
   */
  private void onLost(String payload) {
    if (gap || closed) {
      return; // the catch-up that ends the gap finds them dropped
    }
    long through;
    try {
      through = Long.parseLong(payload);
    } catch (NumberFormatException e) {
      return; // only the publish script writes to this channel
    }
    if (through > watermark) {
      LOG.log(
          Level.WARNING,
          "events up to id "
              + through
              + " are gone from Redis at "
              + target
              + " before this node announced them (it had announced up to "
              + watermark
              + "): a failover to a replica that lacked them");
      tellLost(through);
    }
  }

  /** Announces events a catch-up read, in id order, all above the watermark. */
  private void announceCaughtUp(List<StoredEvent> events) {
    if (events.isEmpty()) {
      return;
    }
    watermark = events.get(events.size() - 1).id();
    highestSeen.accumulateAndGet(watermark, Math::max);
    announce(Collections.unmodifiableList(new ArrayList<>(events)));
  }

  /** Ids above the watermark up to {@code through} are gone: no event of them will be announced. */
  private void tellLost(long through) {
    watermark = through;
    highestSeen.accumulateAndGet(through, Math::max);
    Listener current = listener;
    if (current == null) {
      return;
    }
    try {
      current.onLost(through);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the event log listener failed", e);
    }
  }

  private void announce(List<StoredEvent> events) {
    Listener current = listener;
    if (current == null) {
      return;
    }
    try {
      current.onAppended(events);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the event log listener failed", e);
    }
  }

  private void onDisconnected() {
    openGap("lost the Redis notification connection to " + target);
  }

  /**
   * Notifications may be lost from now on: they are dropped until a catch-up reads their events.
   */
  private void openGap(String why) {
    if (!gap && !closed) {
      LOG.log(Level.WARNING, why + "; catching up once Redis answers");
    }
    gap = true;
    deferWaiting(); // their barriers may be lost; the catch-up reads their events
  }

  /**
   * Ends a gap: resubscribes to every watched topic, then reads their streams after the watermark
   * and announces what was missed, in order. Notifications that arrive meanwhile queue behind this
   * task and are dropped as repeats; those that arrived before it were dropped in the gap, and
   * their events are in the streams it reads. Retried until it succeeds.
   */
  private void catchUp() {
    catchUpScheduled = false;
    if (!gap || closed) {
      return;
    }
    Map<String, Long> since = watched.since();
    try {
      List<String> channels = new ArrayList<>(List.of(barrier, lost));
      since.keySet().forEach(topic -> channels.add(keys.channel(topic)));
      connections.await(
          connections.pubSub().async().subscribe(channels.toArray(new String[0])), "resubscribe");
      lostThrough = 0;
      List<StoredEvent> fresh = missedSince(since);
      // In id order: what was caught up from before the lost ids, the loss, then the rest.
      int before = 0;
      while (before < fresh.size() && fresh.get(before).id() <= lostThrough) {
        before++;
      }
      announceCaughtUp(fresh.subList(0, before));
      if (lostThrough > watermark) {
        tellLost(lostThrough);
      }
      announceCaughtUp(fresh.subList(before, fresh.size()));
      gap = false;
      LOG.log(
          Level.INFO,
          "Redis notifications from " + target + " resumed; caught up " + fresh.size() + " events");
      releaseDeferred();
    } catch (RuntimeException e) {
      LOG.log(Level.DEBUG, "catching up with Redis failed, retrying: " + e);
      if (!catchUpScheduled && !closed) {
        catchUpScheduled = true;
        try {
          ScheduledFuture<?> unused =
              worker.schedule(this::catchUp, CATCH_UP_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
          catchUpScheduled = false;
        }
      }
    }
  }

  /**
   * The events of the watched topics after the watermark, in id order, each once: those of a topic
   * published after it was watched ({@code since}, by topic), since only those were due.
   */
  private List<StoredEvent> missedSince(Map<String, Long> since) {
    TreeMap<Long, StoredEvent> missed = new TreeMap<>();
    List<String> topics = new ArrayList<>(since.keySet());
    for (int from = 0; from < topics.size(); from += CATCH_UP_TOPICS) {
      Set<String> chunk =
          new HashSet<>(topics.subList(from, Math.min(topics.size(), from + CATCH_UP_TOPICS)));
      long after = watermark;
      long dropped = watermark > 0 ? history.droppedThrough(chunk) : 0;
      if (dropped > watermark) {
        // Retention removed events this node never announced (or a failover lost them): its live
        // subscribers of these topics missed them, and no catch-up can bring them back.
        lostThrough = Math.max(lostThrough, dropped);
        LOG.log(
            Level.WARNING,
            "events up to id "
                + dropped
                + " are gone (retention, or a failover to a replica that lacked them) before this"
                + " node could announce them (it had announced up to "
                + watermark
                + "); live subscribers of some of "
                + chunk
                + " missed them and are told with a reset");
      }
      while (true) {
        List<StoredEvent> page = history.readAfter(chunk, after, CATCH_UP_PAGE);
        for (StoredEvent event : page) {
          missed.put(event.id(), event);
        }
        if (page.size() < CATCH_UP_PAGE) {
          break;
        }
        after = page.get(page.size() - 1).id();
      }
    }
    List<StoredEvent> fresh = new ArrayList<>();
    for (StoredEvent event : missed.values()) {
      for (String topic : event.topics()) {
        Long from = since.get(topic);
        if (from != null && event.id() > from) {
          fresh.add(event);
          break;
        }
      }
    }
    return fresh;
  }

  /**
   * Redis replied to an append, on the worker. An append that waits for its barrier completes once
   * the barrier arrived: every notification of the batch was announced before it.
   */
  private void replied(
      long token, CompletableFuture<List<StoredEvent>> result, List<StoredEvent> events) {
    Waiting waiter = waiting.get(token);
    if (waiter == null || waiter.passed || gap || closed) {
      // No local subscriber wanted the events, or they were announced, or (in a gap, closing) they
      // will be announced on catch-up, which a shared log need not wait for.
      waiting.remove(token);
      result.complete(events);
      return;
    }
    waiter.result = result;
    waiter.events = events;
    try {
      waiter.timer =
          worker.schedule(() -> barrierMissed(token), timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      waiting.remove(token);
      result.complete(events);
    }
  }

  /** This node's barrier token arrived after the notifications of its append, on the worker. */
  private void onBarrier(String message) {
    if (gap || closed) {
      return; // the notifications before it were dropped: the catch-up completes the append
    }
    Waiting waiter;
    try {
      waiter = waiting.get(Long.parseLong(message));
    } catch (NumberFormatException e) {
      return; // only the publish script writes to this channel
    }
    if (waiter == null) {
      return;
    }
    if (waiter.events == null) {
      waiter.passed = true; // Redis' reply is still on its way
      return;
    }
    waiting.values().remove(waiter);
    waiter.timer.cancel(false);
    waiter.result.complete(waiter.events);
  }

  /**
   * An append's barrier did not arrive in time although the notification connection is up: Redis
   * Cluster drops Pub/Sub messages when a link between its nodes fails. The streams have every
   * event: catch up from them, then complete the append.
   */
  private void barrierMissed(long token) {
    Waiting waiter = waiting.remove(token);
    if (waiter == null) {
      return;
    }
    if (closed) {
      waiter.result.complete(waiter.events); // stored; nothing more will be announced
      return;
    }
    LOG.log(
        Level.WARNING,
        "a notification from Redis at " + target + " did not arrive in time; reading the streams");
    afterCatchUp.add(() -> waiter.result.complete(waiter.events));
    gap = true;
    catchUp();
  }

  /**
   * Appends whose events Redis stored: those waiting for their barrier complete after a catch-up.
   */
  private void deferWaiting() {
    waiting
        .values()
        .removeIf(
            waiter -> {
              if (waiter.events == null) {
                return false; // completes when Redis replies
              }
              waiter.timer.cancel(false);
              afterCatchUp.add(() -> waiter.result.complete(waiter.events));
              return true;
            });
  }

  private void releaseDeferred() {
    List<Runnable> ready = new ArrayList<>(afterCatchUp);
    afterCatchUp.clear();
    ready.forEach(Runnable::run);
  }

  /** An append waiting for its barrier; on the worker. */
  private static final class Waiting {
    CompletableFuture<List<StoredEvent>> result; // with events, once Redis replied
    List<StoredEvent> events;
    boolean passed; // the barrier arrived before Redis' reply
    ScheduledFuture<?> timer;
  }
}
