package dev.herald.server;

import dev.herald.core.internal.Checks;
import dev.herald.core.internal.DaemonThreads;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

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
 * closed with {@link CloseReason#SLOW_CONSUMER}. A subscription whose live events outgrow {@link
 * Builder#maxBufferedEvents} while it replays a long history reads them from the log instead. Idle
 * streams get a {@code ":\n"} heartbeat from one shared scheduler thread.
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

  /** Default {@link Builder#maxBufferedEvents}. */
  public static final int DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

  /** Default {@link Builder#cursorFlushInterval}: 5 seconds. */
  public static final Duration DEFAULT_CURSOR_FLUSH_INTERVAL = Duration.ofSeconds(5);

  /** Default {@link Builder#heartbeat}: 15 seconds. */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(15);

  private final EventLog log;
  private final BrokerListener listener;
  // The deployment-wide directory of streams; a no-op when this node is on its own.
  private final Presence presence;
  private final int replayPageSize;
  private final int maxBufferedEvents;
  private final TopicIndex index = new TopicIndex();
  private final ScheduledThreadPoolExecutor scheduler;
  private final Heartbeats heartbeats;
  private final Replays replays;
  private final Devices devices;
  private final ReachLedger reach = new ReachLedger();
  private final Roster roster;
  private final Host host = new Host();
  private final AtomicBoolean closing = new AtomicBoolean();
  private volatile boolean closed;

  private Broker(Builder builder) {
    this.log = builder.log != null ? builder.log : MemoryEventLog.builder().build();
    this.listener = builder.listener;
    this.replayPageSize = builder.replayPageSize;
    this.maxBufferedEvents = builder.maxBufferedEvents;
    // First, so that a log that already has a listener fails before any thread is started.
    log.listener(this::onAppended);
    this.scheduler =
        new ScheduledThreadPoolExecutor(1, DaemonThreads.named("herald-broker-scheduler"));
    scheduler.setRemoveOnCancelPolicy(true);
    scheduler.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    this.replays = new Replays(scheduler);
    this.heartbeats = new Heartbeats(builder.heartbeat, scheduler);
    this.presence = builder.presence.orElse(NoPresence.INSTANCE);
    this.devices =
        new Devices(
            log, presence, builder.presence.isPresent(), scheduler, builder.cursorFlushInterval);
    this.roster = new Roster(index, devices, presence);
    try {
      presence.bind(roster.local());
    } catch (RuntimeException e) {
      scheduler.shutdownNow();
      replays.close();
      try {
        presence.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
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
   *     broker is closed, in which case nothing was published, or with {@link
   *     PublishOutcomeUnknownException} if the log cannot tell whether it stored it
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
   *     UnsupportedOperationException} when the log supports no keys — nothing was published — or
   *     with {@link PublishOutcomeUnknownException} when the log cannot tell whether it stored the
   *     batch (a retry with the same key stores it at most once)
   */
  public CompletableFuture<PublishReceipt> publish(
      List<Publication> batch, Optional<IdempotencyKey> key) {
    List<Publication> copy = List.copyOf(batch);
    Objects.requireNonNull(key, "key");
    if (closed) {
      return CompletableFuture.failedFuture(new StoreUnavailableException("the broker is closed"));
    }
    if (copy.isEmpty()) {
      return CompletableFuture.completedFuture(new PublishReceipt(List.of(), false, List.of()));
    }
    // Asked while the log appends, so the answer costs no extra round trip.
    CompletableFuture<Map<String, Integer>> remote = roster.remoteCounts(copy);
    reach.publishing();
    CompletableFuture<AppendReceipt> appended;
    try {
      appended =
          key.isPresent()
              ? log.append(copy, key.get())
              : log.append(copy)
                  .thenApply(
                      events ->
                          new AppendReceipt(events.stream().map(StoredEvent::id).toList(), false));
    } catch (RuntimeException e) {
      reach.published();
      return CompletableFuture.failedFuture(e);
    }
    return appended
        .whenComplete((result, failure) -> reach.published())
        .thenCombine(
            remote,
            (result, elsewhere) -> {
              List<Integer> reached = new ArrayList<>(result.ids().size());
              for (int i = 0; i < result.ids().size(); i++) {
                int n = 0;
                if (!result.replayed()) {
                  n = reach.take(result.ids().get(i));
                  for (String topic : copy.get(i).topics()) {
                    n += elsewhere.getOrDefault(topic, 0);
                  }
                }
                reached.add(n);
              }
              return new PublishReceipt(result.ids(), result.replayed(), reached);
            });
  }

  /**
   * Opens a subscription to {@code topics} from {@code position}. It is registered for live events
   * before this returns; history, if any, is replayed on a broker thread. The sink is never called
   * on the calling thread, so a transport can subscribe, then write its response head, and be sure
   * the head precedes every frame. Blocks while a shared log (Redis) starts announcing a topic to
   * this node; {@link #subscribeAsync(Set, Position, Sink)} never does.
   *
   * <p>Positions: {@link Position.Kind#LIVE} streams only new events (every event after the newest
   * id once it is registered, none before, whenever the log announces them); {@link
   * Position.Kind#EARLIEST} all retained history first; {@link Position.Kind#AFTER} the history
   * after that id. A position the log cannot honour exactly starts the stream with a {@code reset}
   * event (no id) whose data is {@code {"lastEventId":"<as given>","reason":"unknown"}} (not an id,
   * or above the newest id) or {@code "expired"} (retention dropped an event after it), followed by
   * all retained history. A stream that falls behind retention later (a long replay to a slow
   * reader) sends a {@code reset} with reason {@code "expired"} at the gap, its {@code lastEventId}
   * the last id it delivered, and goes on from the oldest retained event: never a silent gap.
   *
   * @throws InvalidTopicException if the topics break the rules of {@link Topics}
   * @throws IllegalStateException if the broker is closed
   * @throws StoreUnavailableException if the log could not start announcing the topics
   */
  public Subscription subscribe(Set<String> topics, Position position, Sink sink) {
    return await(subscribeAsync(topics, position, sink));
  }

  /**
   * Opens a subscription like {@link #subscribe(Set, Position, Sink)} without blocking: for event
   * loops. The future completes once the subscription is registered (on the calling thread when the
   * log needed no round trip, else on a broker thread), or exceptionally with {@link
   * IllegalStateException} (the broker is closed) or {@link StoreUnavailableException}.
   *
   * @throws InvalidTopicException if the topics break the rules of {@link Topics}
   */
  public CompletableFuture<Subscription> subscribeAsync(
      Set<String> topics, Position position, Sink sink) {
    Set<String> checked = Topics.checkAll(Objects.requireNonNull(topics, "topics"));
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(sink, "sink");
    return whenWatched(
        checked,
        () ->
            register(
                position,
                new BrokerSubscription(
                    host,
                    checked,
                    position,
                    sink,
                    Optional.empty(),
                    "",
                    0,
                    heartbeats.nextSlot())));
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
   * @throws IllegalStateException if the broker is closed
   * @throws StoreUnavailableException if the log could not be read
   */
  public Subscription subscribe(Set<String> topics, Position position, Sink sink, String deviceId) {
    return await(subscribeAsync(topics, Optional.of(position), sink, deviceId));
  }

  /**
   * Opens a device's subscription like {@link #subscribe(Set, Position, Sink, String)} without
   * blocking. An empty {@code position} resumes where the device's last stream of these topics
   * stopped ({@link #devicePosition}), or streams live if the device has no cursor.
   *
   * @throws IllegalArgumentException if {@code deviceId} is not 1-128 visible ASCII characters
   * @throws InvalidTopicException if the topics break the rules of {@link Topics}
   */
  public CompletableFuture<Subscription> subscribeAsync(
      Set<String> topics, Optional<Position> position, Sink sink, String deviceId) {
    CursorKey key = CursorKey.of(deviceId, Topics.checkAll(Objects.requireNonNull(topics)));
    Objects.requireNonNull(position, "position");
    Objects.requireNonNull(sink, "sink");
    return whenWatched(
        key.topics(),
        () -> {
          Position from = position.or(() -> devices.position(key)).orElse(Position.live());
          // Read before registering: any later event is delivered live, or found again from here.
          long base =
              switch (from.kind()) {
                case LIVE -> log.lastId();
                case AFTER -> from.id();
                default -> 0;
              };
          return register(
              from,
              new BrokerSubscription(
                  host,
                  key.topics(),
                  from,
                  sink,
                  Optional.of(key),
                  devices.nextStreamId(),
                  base,
                  heartbeats.nextSlot()));
        });
  }

  /**
   * Runs {@code open} once the log announces every topic to this node: at once when the log
   * answered at once (a log of this process, or topics already watched), else on a broker thread.
   * If the watch or {@code open} fails, the topics are unwatched again and the future fails.
   */
  private CompletableFuture<Subscription> whenWatched(
      Set<String> topics, java.util.function.Supplier<BrokerSubscription> open) {
    if (closed) {
      return CompletableFuture.failedFuture(new IllegalStateException("the broker is closed"));
    }
    List<String> list = List.copyOf(topics);
    List<CompletableFuture<Void>> watches = new ArrayList<>(list.size());
    for (String topic : list) {
      CompletableFuture<Void> watch;
      try {
        watch = log.watch(topic);
      } catch (RuntimeException e) {
        watch = CompletableFuture.failedFuture(e);
      }
      watches.add(watch);
    }
    CompletableFuture<Void> all =
        CompletableFuture.allOf(watches.toArray(new CompletableFuture[0]));
    java.util.function.Function<Void, Subscription> registered =
        done -> {
          try {
            return open.get();
          } catch (RuntimeException e) {
            list.forEach(log::unwatch);
            throw e;
          }
        };
    CompletableFuture<Subscription> result =
        all.isDone() && !all.isCompletedExceptionally()
            ? CompletableFuture.completedFuture(null).thenApply(v -> registered.apply(null))
            : all.thenApplyAsync(registered, replays::execute);
    return result.whenComplete(
        (subscription, failure) -> {
          if (failure != null && all.isCompletedExceptionally()) {
            // Only the watches that took hold are undone.
            for (int i = 0; i < list.size(); i++) {
              if (!watches.get(i).isCompletedExceptionally()) {
                log.unwatch(list.get(i));
              }
            }
          }
        });
  }

  /** The result of a subscribe, or what it failed with, on the calling thread. */
  private static Subscription await(CompletableFuture<Subscription> subscribed) {
    try {
      return subscribed.join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof RuntimeException cause) {
        throw cause;
      }
      throw e;
    }
  }

  /** Registers a subscription whose topics are watched; starts its replay. */
  private BrokerSubscription register(Position position, BrokerSubscription subscription) {
    if (closed) {
      throw new IllegalStateException("the broker is closed");
    }
    listener.subscriptionOpened();
    heartbeats.add(subscription);
    index.add(subscription, presence::subscriptionsChanged);
    if (closed) {
      // close() may have missed it; either it did not (the sink hears SHUTDOWN once) or nobody
      // will ever call the sink and the caller learns it here.
      if (subscription.abandon()) {
        throw new IllegalStateException("the broker is closed");
      }
      return subscription;
    }
    if (position.kind() != Position.Kind.LIVE || subscription.startLive(liveStart())) {
      replays.run(subscription);
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
   * Where a device that comes back without a {@code Last-Event-ID} resumes: after the last event
   * written to its stream of these topics — the open stream's, or the saved cursor. Empty when the
   * device has no cursor (never seen, or not within the retention age).
   *
   * @throws StoreUnavailableException if the log cannot be read
   */
  public Optional<Position> devicePosition(String deviceId, Set<String> topics) {
    return devices.position(CursorKey.of(deviceId, topics));
  }

  /**
   * The open streams of devices on this node that cover {@code topic} (opened: see {@link
   * Subscription#opened}): who is online here.
   *
   * @return per device stream, the device id and when it opened, oldest first (then by device id)
   */
  public List<DeviceStream> devices(String topic) {
    return roster.devices(topic);
  }

  /** How many open subscriptions on this node cover {@code topic}. */
  public int subscriptionCount(String topic) {
    return roster.count(topic);
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
    return roster.presence(Objects.requireNonNull(topic, "topic"));
  }

  /**
   * Hands the changed device cursors to the log now (the broker does it every {@link
   * Builder#cursorFlushInterval} anyway).
   *
   * @return completes when the log has stored them
   */
  public CompletableFuture<Void> flushCursors() {
    return devices.flush();
  }

  /** How many subscriptions are open. */
  public int subscriptionCount() {
    return heartbeats.count();
  }

  /** The event log this broker stores in. */
  public EventLog log() {
    return log;
  }

  /**
   * Whether {@link #close} has begun: from then on the broker publishes and subscribes nothing, so
   * a transport answers "shutting down" and a health check says down.
   */
  public boolean isClosed() {
    return closing.get();
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
    heartbeats.forEach(subscription -> subscription.close(CloseReason.SHUTDOWN));
    try {
      flushCursors().get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException
        | java.util.concurrent.TimeoutException
        | RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors on close", e);
    }
    replays.close();
    try {
      presence.close();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "could not close the presence", e);
    }
    log.close();
  }

  /** What subscriptions see of their broker. */
  private final class Host implements SubscriptionHost {
    @Override
    public EventLog log() {
      return log;
    }

    @Override
    public BrokerListener listener() {
      return listener;
    }

    @Override
    public int replayPageSize() {
      return replayPageSize;
    }

    @Override
    public int maxBufferedEvents() {
      return maxBufferedEvents;
    }

    @Override
    public void replay(BrokerSubscription subscription) {
      replays.run(subscription);
    }

    @Override
    public void replayLater(BrokerSubscription subscription, long delayMillis) {
      replays.runLater(subscription, delayMillis);
    }

    @Override
    public Optional<BrokerSubscription> takeDevicePlace(BrokerSubscription subscription) {
      return devices.take(subscription);
    }

    @Override
    public void unregister(BrokerSubscription subscription) {
      devices.release(subscription);
      index.remove(
          subscription,
          topic -> {
            log.unwatch(topic);
            presence.subscriptionsChanged(topic);
          });
      heartbeats.remove(subscription);
    }
  }

  /** The log's listener: fans each event out in id order, on the log's announcing thread. */
  private void onAppended(List<StoredEvent> events) {
    for (int i = 0, n = events.size(); i < n; i++) {
      StoredEvent event = events.get(i);
      long counts = index.fanOut(event);
      int reached = (int) (counts >>> 32);
      int delivered = (int) counts;
      reach.record(event.id(), reached);
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

  /** One heartbeat tick, by hand; for tests. */
  void heartbeatTick() {
    heartbeats.tick();
  }

  /** Builds a {@link Broker}. */
  public static final class Builder {
    private EventLog log;
    private Duration heartbeat = DEFAULT_HEARTBEAT;
    private BrokerListener listener = new BrokerListener() {};
    private int replayPageSize = DEFAULT_REPLAY_PAGE_SIZE;
    private int maxBufferedEvents = DEFAULT_MAX_BUFFERED_EVENTS;
    private Duration cursorFlushInterval = DEFAULT_CURSOR_FLUSH_INTERVAL;
    private Optional<Presence> presence = Optional.empty();

    private Builder() {}

    /**
     * Shares this node's device streams and subscription counts with the other nodes on the same
     * shared log, through {@code presence}; default none: the broker knows its own node only. The
     * broker binds it on {@link #build} (if that fails, {@code build} closes it and throws what
     * {@link Presence#bind} threw) and closes it on {@link Broker#close}.
     */
    public Builder presence(Presence presence) {
      this.presence = Optional.of(presence);
      return this;
    }

    /**
     * Sets how often the cursors of active device streams are saved in the log; default 5 s.
     * Cursors of closed streams are saved at the next flush too, and on {@link Broker#close}.
     */
    public Builder cursorFlushInterval(Duration interval) {
      this.cursorFlushInterval = Checks.positive("cursorFlushInterval", interval);
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
      this.heartbeat = Checks.notNegative("heartbeat", heartbeat);
      return this;
    }

    /** Sets the metrics hooks; default none. */
    public Builder listener(BrokerListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** Sets how many events one read from the log returns during replay; default 500. */
    public Builder replayPageSize(int replayPageSize) {
      this.replayPageSize = Checks.positive("replayPageSize", replayPageSize);
      return this;
    }

    /**
     * Sets how many live events one subscription may hold back while it replays history; past it
     * the subscription drops them and reads them from the log once its replay gets there, rather
     * than grow without bound. Default 10 000.
     */
    public Builder maxBufferedEvents(int maxBufferedEvents) {
      this.maxBufferedEvents = Checks.positive("maxBufferedEvents", maxBufferedEvents);
      return this;
    }

    /** Returns the broker. */
    public Broker build() {
      return new Broker(this);
    }
  }
}
