package dev.herald.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Publishes events to topics and streams them to subscriptions: live, or from a position in the
 * {@link EventLog} with an exact hand-off from history to live.
 *
 * <p>Publishing stores the event in the log, which assigns its id, then hands the event's frame,
 * encoded once, to every live subscription of its topics; a subscription covering several of them
 * gets it once. Subscribing registers for live events first, then replays history after the
 * position from the log in pages on a broker thread, then the live events that arrived meanwhile
 * (skipping those already written), then streams live: no gap, no duplicate.
 *
 * <p>Sinks are never called concurrently for one subscription, never on the thread that called
 * {@link #subscribe}, and never block the broker: a sink that reports it is over its bound is
 * closed with {@link CloseReason#SLOW_CONSUMER}; so is a subscription whose live events outgrow
 * {@link Builder#maxBufferedEvents} while it replays a long history. Idle streams get a {@code
 * ":\n"} heartbeat from one shared scheduler thread.
 *
 * <p>Devices: a subscription opened with a device id ({@link #subscribe(Set, Position, Sink,
 * String)}) is that device's one stream for its topic set — a newer one replaces it — and the
 * broker keeps the device's cursor, the id of the last event written to the stream, saving it in
 * the log every few seconds and when the stream ends, so the device can resume from it ({@link
 * #devicePosition}). A device's stream takes the device's place when its transport reports it open
 * ({@link Subscription#opened}), and only then is the older one closed. {@link #devices} and {@link
 * #subscriptionCount(String)} tell who is online on this node, {@link #presence(String)} on every
 * node, and {@link #publish(List, java.util.Optional)} how many streams each event reached.
 *
 * <p>Several nodes on one shared log (Redis) share a {@link Presence} ({@link Builder#presence}):
 * then a device's new stream on one node replaces its older stream on another, and presence and
 * reach count every live node.
 *
 * <pre>{@code
 * Broker broker = Broker.builder().heartbeat(Duration.ofSeconds(15)).build();
 * Subscription sub = broker.subscribe(Set.of("prices"), Position.parse(lastEventId), sink);
 * broker.publish(Publication.of("prices", Event.of("{\"eur\": 1.08}"))).join();
 * sub.close();
 * broker.close();
 * }</pre>
 */
public final class Broker implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  /** Default {@link Builder#replayPageSize}. */
  public static final int DEFAULT_REPLAY_PAGE_SIZE = 500;

  // Device streams oldest first; streams opened in the same millisecond by device id, so every
  // node lists them in the same order.
  private static final java.util.Comparator<DeviceStream> OLDEST_FIRST =
      java.util.Comparator.comparing(DeviceStream::since).thenComparing(DeviceStream::deviceId);

  /** Default {@link Builder#maxBufferedEvents}. */
  public static final int DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

  /** Default {@link Builder#cursorFlushInterval}: 5 seconds. */
  public static final Duration DEFAULT_CURSOR_FLUSH_INTERVAL = Duration.ofSeconds(5);

  /**
   * Most heartbeat slots: a tick visits one, so a burst of heartbeats is 1/64 of the idle streams.
   */
  static final int HEARTBEAT_SLOTS = 64;

  /** Default {@link Builder#heartbeat}: 15 seconds. */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(15);

  private final EventLog log;
  private final BrokerListener listener;
  // The deployment-wide directory of streams; null when this node is on its own.
  private final Presence presence;
  private final java.util.concurrent.atomic.AtomicLong tokens =
      new java.util.concurrent.atomic.AtomicLong();
  private final int replayPageSize;
  private final int maxBufferedEvents;
  private final ConcurrentHashMap<String, Set<BrokerSubscription>> index =
      new ConcurrentHashMap<>();
  // Every open subscription, in the set of its heartbeat slot (assigned round-robin). Each
  // heartbeat tick visits one slot, so streams that fall idle together get their heartbeats spread
  // over the interval, not in one burst: writing 10 000 heartbeats at once holds up every delivery
  // queued behind them for ~100 ms.
  private final List<Set<BrokerSubscription>> subscriptions;
  private final AtomicInteger nextHeartbeatSlot = new AtomicInteger();
  private long heartbeatTicks; // the scheduler thread's (tests tick by hand, with no scheduler)
  private final ScheduledThreadPoolExecutor scheduler;
  private final ThreadPoolExecutor replayPool;
  private final AtomicBoolean closing = new AtomicBoolean();
  // Reach of events announced while a publish of this node awaits its log, picked up by that
  // publish; bounded, since announcements of other nodes' events (a shared log) are never picked.
  private final java.util.concurrent.ConcurrentSkipListMap<Long, Integer> reachedById =
      new java.util.concurrent.ConcurrentSkipListMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger remembered = new AtomicInteger();
  // The open stream of each device and topic set (a newer one replaces it).
  private final ConcurrentHashMap<CursorKey, BrokerSubscription> devices =
      new ConcurrentHashMap<>();
  // Final cursors of closed device streams, not yet handed to the log.
  private final ConcurrentHashMap<CursorKey, Long> closedCursors = new ConcurrentHashMap<>();
  // Every cursor, when the log stores none: kept for as long as the broker runs.
  private final ConcurrentHashMap<CursorKey, Long> memoryCursors = new ConcurrentHashMap<>();
  private final java.util.concurrent.locks.ReentrantLock flushLock =
      new java.util.concurrent.locks.ReentrantLock();
  private static final int MAX_REMEMBERED_REACH = 65_536;
  private static final long FLUSH_SOON_MILLIS = 50;
  private final AtomicBoolean flushScheduled = new AtomicBoolean();
  private volatile boolean closed;

  private Broker(Builder builder) {
    this.log = builder.log != null ? builder.log : MemoryEventLog.builder().build();
    this.listener = builder.listener;
    this.replayPageSize = builder.replayPageSize;
    this.maxBufferedEvents = builder.maxBufferedEvents;
    // First, so that a log that already has a listener fails before any thread is started.
    log.listener(this::onAppended);
    this.scheduler = new ScheduledThreadPoolExecutor(1, daemonThreads("herald-broker-scheduler"));
    scheduler.setRemoveOnCancelPolicy(true);
    scheduler.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    int replayThreads = Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
    this.replayPool =
        new ThreadPoolExecutor(
            replayThreads,
            replayThreads,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            daemonThreads("herald-broker-replay"));
    replayPool.allowCoreThreadTimeOut(true);
    long flushNanos = builder.cursorFlushInterval.toNanos();
    scheduler.scheduleWithFixedDelay(
        this::flushCursorsQuietly, flushNanos, flushNanos, TimeUnit.NANOSECONDS);
    // Each subscription is visited twice per interval: it gets a heartbeat once it has been idle
    // for two whole visits, so between one interval and one and a half after its last frame. The
    // visits of the slots are staggered over each half interval, at most one tick per millisecond.
    long halfInterval = builder.heartbeat.toNanos() / 2;
    int slots = (int) Math.max(1, Math.min(HEARTBEAT_SLOTS, halfInterval / 1_000_000));
    this.subscriptions = new ArrayList<>(slots);
    for (int i = 0; i < slots; i++) {
      subscriptions.add(ConcurrentHashMap.newKeySet());
    }
    if (!builder.heartbeat.isZero()) {
      long tickNanos = Math.max(1_000_000, halfInterval / slots);
      scheduler.scheduleAtFixedRate(
          this::heartbeatTick, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
    }
    this.presence = builder.presence;
    if (presence != null) {
      try {
        presence.bind(new LocalNode());
      } catch (RuntimeException e) {
        scheduler.shutdownNow();
        replayPool.shutdownNow();
        try {
          presence.close();
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
    }
  }

  /** Returns a builder: a fresh {@link MemoryEventLog}, 15 s heartbeats, no listener. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Stores {@code publication} and fans it out to the live subscriptions of its topics.
   *
   * @return the stored event (with its id) once it is durable and handed to local subscriptions;
   *     completes exceptionally with {@link StoreUnavailableException} if the log failed or the
   *     broker is closed, in which case nothing was published
   */
  public CompletableFuture<StoredEvent> publish(Publication publication) {
    Objects.requireNonNull(publication, "publication");
    return publishAll(List.of(publication)).thenApply(events -> events.get(0));
  }

  /**
   * Stores a batch all-or-nothing, ids in batch order, and fans each event out.
   *
   * @return the stored events in the order given, as for {@link #publish}
   */
  public CompletableFuture<List<StoredEvent>> publishAll(List<Publication> batch) {
    List<Publication> copy = List.copyOf(batch);
    if (closed) {
      return CompletableFuture.failedFuture(new StoreUnavailableException("the broker is closed"));
    }
    if (copy.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    try {
      return log.append(copy);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Stores a batch all-or-nothing like {@link #publishAll(List)}, idempotently when a key is given
   * (see {@link EventLog#append(List, IdempotencyKey)}), and tells how many live subscriptions on
   * this node each event reached.
   *
   * @return the ids and reach once durable; completes exceptionally with {@link
   *     StoreUnavailableException}, {@link IdempotencyConflictException}, or {@link
   *     UnsupportedOperationException} when the log supports no keys — nothing was published
   */
  public CompletableFuture<Published> publish(
      List<Publication> batch, Optional<IdempotencyKey> key) {
    List<Publication> copy = List.copyOf(batch);
    Objects.requireNonNull(key, "key");
    if (closed) {
      return CompletableFuture.failedFuture(new StoreUnavailableException("the broker is closed"));
    }
    if (copy.isEmpty()) {
      return CompletableFuture.completedFuture(new Published(List.of(), false, List.of()));
    }
    // Asked while the log appends, so the answer costs no extra round trip.
    CompletableFuture<Map<String, Integer>> remote = remoteSubscriptionCounts(copy);
    inFlight.incrementAndGet();
    CompletableFuture<Appended> appended;
    try {
      appended =
          key.isPresent()
              ? log.append(copy, key.get())
              : log.append(copy)
                  .thenApply(
                      events -> new Appended(events.stream().map(StoredEvent::id).toList(), false));
    } catch (RuntimeException e) {
      inFlight.decrementAndGet();
      return CompletableFuture.failedFuture(e);
    }
    return appended
        .whenComplete((result, failure) -> inFlight.decrementAndGet())
        .thenCombine(
            remote,
            (result, elsewhere) -> {
              List<Integer> reach = new ArrayList<>(result.ids().size());
              for (int i = 0; i < result.ids().size(); i++) {
                Integer n = result.replayed() ? null : reachedById.remove(result.ids().get(i));
                if (n != null) {
                  remembered.decrementAndGet();
                }
                int reached = n == null ? 0 : n;
                if (!result.replayed() && !elsewhere.isEmpty()) {
                  for (String topic : copy.get(i).topics()) {
                    reached += elsewhere.getOrDefault(topic, 0);
                  }
                }
                reach.add(reached);
              }
              return new Published(result.ids(), result.replayed(), reach);
            });
  }

  /**
   * The subscriptions on other nodes covering the batch's topics; none without a presence, or when
   * it cannot answer (the publish must not fail over a count).
   */
  private CompletableFuture<Map<String, Integer>> remoteSubscriptionCounts(
      List<Publication> batch) {
    if (presence == null) {
      return CompletableFuture.completedFuture(Map.of());
    }
    Set<String> topics = new java.util.HashSet<>();
    for (Publication publication : batch) {
      topics.addAll(publication.topics());
    }
    CompletableFuture<Map<String, Integer>> counts;
    try {
      counts = presence.remoteSubscriptionCounts(topics);
    } catch (RuntimeException e) {
      counts = CompletableFuture.failedFuture(e);
    }
    return counts.exceptionally(
        failure -> {
          LOG.log(
              System.Logger.Level.DEBUG,
              "could not count remote subscriptions; reached counts this node only: " + failure);
          return Map.of();
        });
  }

  /**
   * Opens a subscription to {@code topics} from {@code position}. It is registered for live events
   * before this returns; history, if any, is replayed on a broker thread. The sink is never called
   * on the calling thread, so a transport can subscribe, then write its response head, and be sure
   * the head precedes every frame.
   *
   * <p>Positions: {@link Position.Kind#LIVE} streams only new events (every event after the newest
   * id once it is registered, none before, whenever the log announces them); {@link
   * Position.Kind#EARLIEST} all retained history first; {@link Position.Kind#AFTER} the history
   * after that id. A position the log cannot honour exactly starts the stream with a {@code reset}
   * event (no id) whose data is {@code {"lastEventId":"<as given>","reason":"unknown"}} (not an id,
   * or above the newest id) or {@code "expired"} (retention dropped an event after it), followed by
   * all retained history.
   *
   * @throws InvalidTopicException if the topics break the rules of {@link Topics}
   * @throws IllegalStateException if the broker is closed
   */
  public Subscription subscribe(Set<String> topics, Position position, Sink sink) {
    Set<String> checked = Topics.checkAll(Objects.requireNonNull(topics, "topics"));
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(sink, "sink");
    if (closed) {
      throw new IllegalStateException("the broker is closed");
    }
    return register(checked, position, sink, new BrokerSubscription(this, checked, position, sink));
  }

  private BrokerSubscription register(
      Set<String> checked, Position position, Sink sink, BrokerSubscription subscription) {
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(sink, "sink");
    if (closed) {
      throw new IllegalStateException("the broker is closed");
    }
    watchAll(checked);
    listener.subscriptionOpened();
    subscriptions.get(subscription.heartbeatSlot()).add(subscription);
    for (String topic : checked) {
      index.compute(
          topic,
          (key, set) -> {
            Set<BrokerSubscription> members = set != null ? set : ConcurrentHashMap.newKeySet();
            members.add(subscription);
            return members;
          });
      if (presence != null) {
        presence.subscriptionsChanged(topic);
      }
    }
    if (closed) {
      // close() may have missed it; either it did not (the sink hears SHUTDOWN once) or nobody
      // will ever call the sink and the caller learns it here.
      if (subscription.abandon()) {
        throw new IllegalStateException("the broker is closed");
      }
      return subscription;
    }
    if (position.kind() != Position.Kind.LIVE || subscription.startLive(liveStart())) {
      replay(subscription);
    }
    return subscription;
  }

  /**
   * Where a live-only subscription starts: the newest id, read once it is registered for every
   * topic, so each later event is offered to it. Not sooner, and not whatever is announced first: a
   * shared log may still announce events published before a topic's channel was subscribed (late,
   * through another topic's channel or a dropped subscription of the same), while an event
   * published between them never reaches this node. 0 if the log cannot tell now (Redis down: its
   * catch-up announces everything from the watch on, in order), without waiting a second time for a
   * store the watch already waited for.
   */
  private long liveStart() {
    if (!log.isAvailable()) {
      return 0;
    }
    try {
      return log.lastId();
    } catch (StoreUnavailableException e) {
      LOG.log(System.Logger.Level.DEBUG, "live subscription starts without the newest id: " + e);
      return 0;
    }
  }

  /**
   * Opens a subscription for a device, like {@link #subscribe(Set, Position, Sink)}, to become the
   * device's one stream for these topics: once the transport reports it open ({@link
   * Subscription#opened}), an older open stream of the same device and topic set is closed with
   * {@link CloseReason#REPLACED} — on this node, or through the {@link Presence} on another — and
   * the new one is listed by {@link #devices} and {@link #presence}. The broker tracks the id of
   * the last event written to the device's stream (its cursor) and saves it in the log every {@link
   * Builder#cursorFlushInterval} and when the stream closes; see {@link #devicePosition}.
   *
   * @throws IllegalArgumentException if {@code deviceId} is not 1-128 visible ASCII characters
   */
  public Subscription subscribe(Set<String> topics, Position position, Sink sink, String deviceId) {
    CursorKey key = CursorKey.of(deviceId, Topics.checkAll(Objects.requireNonNull(topics)));
    // Read before registering: any later event is delivered live, or found again from here.
    long base =
        switch (position.kind()) {
          case LIVE -> log.lastId();
          case AFTER -> position.id();
          default -> 0;
        };
    return register(
        key.topics(),
        position,
        sink,
        new BrokerSubscription(this, key.topics(), position, sink, key, base));
  }

  /**
   * Makes an opened device stream its device's one stream; under the stream's lock, while it is
   * open (so its unregister comes after this). Returns the stream it replaces on this node, which
   * the caller closes once it no longer holds the lock.
   */
  BrokerSubscription takeDevicePlace(BrokerSubscription subscription) {
    CursorKey key = subscription.device();
    BrokerSubscription older = devices.put(key, subscription);
    // The new stream's cursor rules now; a closed stream's unsaved one must not overwrite it.
    closedCursors.remove(key);
    if (presence != null) {
      // Before the older one closes, so other nodes never see the device without a stream.
      presence.opened(stream(subscription));
    }
    return older == subscription ? null : older;
  }

  String nextToken() {
    return Long.toString(tokens.incrementAndGet(), 36);
  }

  private static Presence.Stream stream(BrokerSubscription subscription) {
    return new Presence.Stream(subscription.device(), subscription.token(), subscription.since());
  }

  /**
   * Where a device that comes back without a {@code Last-Event-ID} resumes: after the last event
   * written to its stream of these topics — the open stream's, or the saved cursor. Empty when the
   * device has no cursor (never seen, or not within the retention age).
   *
   * @throws StoreUnavailableException if the log cannot be read
   */
  public Optional<Position> devicePosition(String deviceId, Set<String> topics) {
    CursorKey key = CursorKey.of(deviceId, topics);
    BrokerSubscription open = devices.get(key);
    long cursor = open != null ? open.deviceCursor() : 0;
    if (cursor == 0) {
      Long closed = closedCursors.get(key);
      if (closed != null) {
        cursor = closed;
      } else if (log.supportsCursors()) {
        cursor = log.cursor(key).orElse(0L);
      } else {
        cursor = memoryCursors.getOrDefault(key, 0L);
      }
    }
    return cursor > 0 ? Optional.of(Position.after(cursor)) : Optional.empty();
  }

  /**
   * The open streams of devices on this node that cover {@code topic} (opened: see {@link
   * Subscription#opened}): who is online here.
   *
   * @return per device stream, the device id and when it opened, oldest first (then by device id)
   */
  public List<DeviceStream> devices(String topic) {
    List<DeviceStream> result = new ArrayList<>();
    Set<BrokerSubscription> members = index.get(topic);
    if (members != null) {
      for (BrokerSubscription subscription : members) {
        if (subscription.device() != null && subscription.wasOpened() && subscription.isOpen()) {
          result.add(new DeviceStream(subscription.device().deviceId(), subscription.since()));
        }
      }
    }
    result.sort(OLDEST_FIRST);
    return result;
  }

  /** How many open subscriptions on this node cover {@code topic}. */
  public int subscriptionCount(String topic) {
    Set<BrokerSubscription> members = index.get(topic);
    return members == null ? 0 : members.size();
  }

  /**
   * Who is connected to {@code topic} on every node: this node's {@link #devices} and {@link
   * #subscriptionCount(String)}, plus those the {@link Presence} knows of on the other live nodes
   * (without one, this node's only). Never blocks.
   *
   * @return completes exceptionally with {@link StoreUnavailableException} if the presence cannot
   *     be read
   */
  public CompletableFuture<TopicPresence> presence(String topic) {
    Objects.requireNonNull(topic, "topic");
    List<DeviceStream> here = devices(topic);
    int count = subscriptionCount(topic);
    if (presence == null) {
      return CompletableFuture.completedFuture(new TopicPresence(topic, here, count));
    }
    CompletableFuture<TopicPresence> remote;
    try {
      remote = presence.remote(topic);
    } catch (RuntimeException e) {
      remote = CompletableFuture.failedFuture(e);
    }
    return remote.thenApply(
        elsewhere -> {
          List<DeviceStream> all = new ArrayList<>(here);
          all.addAll(elsewhere.devices());
          all.sort(OLDEST_FIRST);
          return new TopicPresence(topic, all, count + elsewhere.subscriptions());
        });
  }

  /**
   * Hands the changed device cursors to the log now (the broker does it every {@link
   * Builder#cursorFlushInterval} anyway).
   *
   * @return completes when the log has stored them
   */
  public CompletableFuture<Void> flushCursors() {
    flushLock.lock();
    try {
      Map<CursorKey, Long> changed = new java.util.HashMap<>();
      for (Map.Entry<CursorKey, Long> closed : closedCursors.entrySet()) {
        changed.put(closed.getKey(), closed.getValue());
      }
      Map<BrokerSubscription, Long> opened = new java.util.HashMap<>();
      for (BrokerSubscription subscription : devices.values()) {
        long cursor = subscription.deviceCursor();
        if (cursor > 0 && cursor != subscription.savedCursor) {
          changed.put(subscription.device(), cursor);
          opened.put(subscription, cursor);
        }
      }
      if (changed.isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
      opened.forEach((subscription, cursor) -> subscription.savedCursor = cursor);
      changed.forEach((key, cursor) -> closedCursors.remove(key, cursor));
      if (!log.supportsCursors()) {
        memoryCursors.putAll(changed);
        return CompletableFuture.completedFuture(null);
      }
      return log.saveCursors(changed)
          .whenComplete(
              (done, failure) -> {
                if (failure != null) {
                  // Try again at the next flush: put back what no newer value replaced.
                  changed.forEach(
                      (key, cursor) -> {
                        if (!devices.containsKey(key)) {
                          closedCursors.putIfAbsent(key, cursor);
                        }
                      });
                  opened.keySet().forEach(subscription -> subscription.savedCursor = 0);
                }
              });
    } finally {
      flushLock.unlock();
    }
  }

  /** Flushes the cursors within {@link #FLUSH_SOON_MILLIS}, once for every close meanwhile. */
  private void flushSoon() {
    if (flushScheduled.compareAndSet(false, true)) {
      try {
        ScheduledFuture<?> unused =
            scheduler.schedule(
                () -> {
                  flushScheduled.set(false);
                  flushCursorsQuietly();
                },
                FLUSH_SOON_MILLIS,
                TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        flushScheduled.set(false); // closing: close() flushes
      }
    }
  }

  private void flushCursorsQuietly() {
    try {
      flushCursors();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors", e);
    }
  }

  /** How many subscriptions are open. */
  public int subscriptionCount() {
    int count = 0;
    for (Set<BrokerSubscription> slot : subscriptions) {
      count += slot.size();
    }
    return count;
  }

  /** The event log this broker stores in. */
  public EventLog log() {
    return log;
  }

  /**
   * Ends every subscription with {@link CloseReason#SHUTDOWN} (each sink hears it once), stops the
   * heartbeats and closes the presence, if any, and the log. Idempotent.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    closed = true;
    scheduler.shutdownNow();
    for (Set<BrokerSubscription> slot : subscriptions) {
      for (BrokerSubscription subscription : slot) {
        subscription.close(CloseReason.SHUTDOWN);
      }
    }
    try {
      flushCursors().get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException
        | java.util.concurrent.TimeoutException
        | RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors on close", e);
    }
    replayPool.shutdown();
    try {
      if (!replayPool.awaitTermination(5, TimeUnit.SECONDS)) {
        LOG.log(System.Logger.Level.WARNING, "replay threads did not stop within 5 s");
        replayPool.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (presence != null) {
      try {
        presence.close();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "could not close the presence", e);
      }
    }
    log.close();
  }

  int replayPageSize() {
    return replayPageSize;
  }

  int maxBufferedEvents() {
    return maxBufferedEvents;
  }

  BrokerListener listener() {
    return listener;
  }

  /** Runs (or continues) a subscription's replay on a replay thread. */
  void replay(BrokerSubscription subscription) {
    try {
      replayPool.execute(subscription::replayStep);
    } catch (RejectedExecutionException e) {
      // Only after close() began: it ends the subscription with SHUTDOWN.
      LOG.log(System.Logger.Level.DEBUG, "replay refused: the broker is closing");
    }
  }

  /** Continues a replay after {@code delayMillis}, once the sink may be writable again. */
  void replayLater(BrokerSubscription subscription, long delayMillis) {
    try {
      ScheduledFuture<?> unused =
          scheduler.schedule(() -> replay(subscription), delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      LOG.log(System.Logger.Level.DEBUG, "replay refused: the broker is closing");
    }
  }

  /** Removes a closed subscription from the topic index; runs once per subscription. */
  void unregister(BrokerSubscription subscription) {
    CursorKey device = subscription.device();
    if (device != null && devices.remove(device, subscription)) {
      long cursor = subscription.deviceCursor();
      if (cursor > 0) {
        closedCursors.put(device, cursor);
      }
      if (presence != null) {
        presence.closed(stream(subscription));
        // The device may be back on another node any moment: hand its cursor over soon.
        flushSoon();
      }
    }
    for (String topic : subscription.topics()) {
      index.computeIfPresent(
          topic,
          (key, set) -> {
            set.remove(subscription);
            return set.isEmpty() ? null : set;
          });
      log.unwatch(topic);
      if (presence != null) {
        presence.subscriptionsChanged(topic);
      }
    }
    subscriptions.get(subscription.heartbeatSlot()).remove(subscription);
  }

  /** What the presence sees of this node. */
  private final class LocalNode implements Presence.Local {
    @Override
    public int subscriptionCount(String topic) {
      return Broker.this.subscriptionCount(topic);
    }

    @Override
    public Map<String, Integer> subscriptionCounts() {
      Map<String, Integer> counts = new java.util.HashMap<>();
      index.forEach((topic, members) -> counts.put(topic, members.size()));
      counts.values().removeIf(n -> n == 0);
      return counts;
    }

    @Override
    public List<Presence.Stream> deviceStreams() {
      List<Presence.Stream> streams = new ArrayList<>();
      for (BrokerSubscription subscription : devices.values()) {
        if (subscription.isOpen()) {
          streams.add(stream(subscription));
        }
      }
      return streams;
    }

    @Override
    public void replaced(CursorKey key, String token) {
      BrokerSubscription current = devices.get(key);
      if (current != null && current.token().equals(token)) {
        current.close(CloseReason.REPLACED);
      }
    }
  }

  /**
   * Tells a shared log (Redis) to announce these topics to this node. Done before the subscription
   * is registered, so a close racing the subscribe cannot unwatch first and leave a watch behind;
   * if the log cannot watch, nothing is left watched and the subscribe fails.
   */
  private void watchAll(Set<String> topics) {
    List<String> watched = new ArrayList<>(topics.size());
    try {
      for (String topic : topics) {
        log.watch(topic);
        watched.add(topic);
      }
    } catch (RuntimeException e) {
      watched.forEach(log::unwatch);
      throw e;
    }
  }

  /** The log's listener: fans each event out in id order, on the log's announcing thread. */
  private void onAppended(List<StoredEvent> events) {
    for (int i = 0, n = events.size(); i < n; i++) {
      StoredEvent event = events.get(i);
      int reached = 0;
      int delivered = 0;
      for (String topic : event.topics()) {
        Set<BrokerSubscription> members = index.get(topic);
        if (members == null) {
          continue;
        }
        for (BrokerSubscription subscription : members) {
          int outcome = subscription.offer(event);
          if (outcome != BrokerSubscription.SKIPPED) {
            reached++;
            if (outcome == BrokerSubscription.DELIVERED) {
              delivered++;
            }
          }
        }
      }
      if (inFlight.get() > 0) {
        // ConcurrentSkipListMap.size() walks the map: count separately.
        if (reachedById.put(event.id(), reached) == null
            && remembered.incrementAndGet() > MAX_REMEMBERED_REACH
            && reachedById.pollFirstEntry() != null) {
          remembered.decrementAndGet();
        }
      }
      try {
        listener.published(event, reached);
        if (delivered > 0) {
          listener.delivered(delivered);
        }
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "broker listener failed", e);
      }
    }
  }

  /** One heartbeat tick: visits the subscriptions of the next slot. */
  void heartbeatTick() {
    for (BrokerSubscription subscription :
        subscriptions.get((int) (heartbeatTicks++ % subscriptions.size()))) {
      subscription.heartbeatTick();
    }
  }

  /** The heartbeat slot of a new subscription: round-robin, so the slots stay even. */
  int nextHeartbeatSlot() {
    return Math.floorMod(nextHeartbeatSlot.getAndIncrement(), subscriptions.size());
  }

  private static ThreadFactory daemonThreads(String name) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  /** Builds a {@link Broker}. */
  public static final class Builder {
    private EventLog log;
    private Duration heartbeat = DEFAULT_HEARTBEAT;
    private BrokerListener listener = new BrokerListener() {};
    private int replayPageSize = DEFAULT_REPLAY_PAGE_SIZE;
    private int maxBufferedEvents = DEFAULT_MAX_BUFFERED_EVENTS;
    private Duration cursorFlushInterval = DEFAULT_CURSOR_FLUSH_INTERVAL;
    private Presence presence;

    private Builder() {}

    /**
     * Shares this node's device streams and subscription counts with the other nodes on the same
     * shared log, through {@code presence}; default none: the broker knows its own node only. The
     * broker binds it on {@link #build} (if that fails, {@code build} closes it and throws what
     * {@link Presence#bind} threw) and closes it on {@link Broker#close}.
     */
    public Builder presence(Presence presence) {
      this.presence = Objects.requireNonNull(presence, "presence");
      return this;
    }

    /**
     * Sets how often the cursors of active device streams are saved in the log; default 5 s.
     * Cursors of closed streams are saved at the next flush too, and on {@link Broker#close}.
     */
    public Builder cursorFlushInterval(Duration interval) {
      Objects.requireNonNull(interval, "interval");
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("cursorFlushInterval must be positive: " + interval);
      }
      this.cursorFlushInterval = interval;
      return this;
    }

    /**
     * Sets the event log; default a {@link MemoryEventLog} with {@link Retention#DEFAULT}. The
     * broker becomes its listener and closes it on {@link Broker#close}.
     */
    public Builder log(EventLog log) {
      this.log = Objects.requireNonNull(log, "log");
      return this;
    }

    /**
     * Sets how long a stream may be idle before it gets a {@code ":\n"} comment; default 15 s,
     * {@link Duration#ZERO} turns heartbeats off.
     */
    public Builder heartbeat(Duration heartbeat) {
      Objects.requireNonNull(heartbeat, "heartbeat");
      if (heartbeat.isNegative()) {
        throw new IllegalArgumentException("heartbeat must not be negative: " + heartbeat);
      }
      this.heartbeat = heartbeat;
      return this;
    }

    /** Sets the metrics hooks; default none. */
    public Builder listener(BrokerListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** Sets how many events one read from the log returns during replay; default 500. */
    public Builder replayPageSize(int replayPageSize) {
      if (replayPageSize < 1) {
        throw new IllegalArgumentException("replayPageSize must be positive: " + replayPageSize);
      }
      this.replayPageSize = replayPageSize;
      return this;
    }

    /**
     * Sets how many live events one subscription may hold back while it replays history; past it
     * the subscription is closed with {@link CloseReason#SLOW_CONSUMER} (the client resumes with
     * its last event id) rather than grow without bound. Default 10 000.
     */
    public Builder maxBufferedEvents(int maxBufferedEvents) {
      if (maxBufferedEvents < 1) {
        throw new IllegalArgumentException(
            "maxBufferedEvents must be positive: " + maxBufferedEvents);
      }
      this.maxBufferedEvents = maxBufferedEvents;
      return this;
    }

    /** Returns the broker. */
    public Broker build() {
      return new Broker(this);
    }
  }
}
