package dev.herald.redis;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.ReplicationUnconfirmedException;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Topics;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An {@link EventLog} on Redis, shared by every hub node of a deployment: history in one Redis
 * Stream per topic, ids from one sequence, and fan-out across nodes through Pub/Sub. Each node
 * announces the events of the topics it {@linkplain #watch watches}, whichever node published them.
 *
 * <pre>{@code
 * RedisEventLog log = RedisEventLog.builder()
 *     .uri("redis://:secret@redis.internal:6379/0")   // rediss:// for TLS, redis-cluster://...
 *     .retention(new Retention(1000, Duration.ofHours(24)))
 *     .build();
 * Broker broker = Broker.builder().log(log).build();
 * }</pre>
 *
 * <p>An append completes once Redis acknowledged it (durable as Redis' persistence makes it: AOF
 * with {@code appendfsync everysec} or {@code always}, to match what you need) and, if this node
 * watches one of its topics, its events were announced. It fails with {@link
 * StoreUnavailableException} when nothing was stored, and with {@link
 * PublishOutcomeUnknownException} only when Redis' answer was lost and Redis did not tell within
 * one more {@linkplain Builder#commandTimeout command timeout} whether it stored the batch (the
 * events may still appear; retrying with the same {@link IdempotencyKey} stores them at most once).
 *
 * <p>Appends that arrive while a publish call is in flight go together in the next one (group
 * commit: one script call, one barrier and, with {@link Builder#minReplicas}, one {@code WAIT} per
 * group), each still answered on its own. With {@code minReplicas} an append completes only once
 * enough replicas confirmed it, or fails with {@link ReplicationUnconfirmedException}: stored on
 * the primary, but it may be lost if the primary fails.
 *
 * <p><b>Redis</b>: 6.2 or later (RESP3, {@code XTRIM MINID}), with {@code maxmemory-policy
 * noeviction}, since evicting a stream would lose history silently. One Redis ({@code redis://},
 * {@code rediss://}), Sentinel ({@code redis-sentinel://}) or Redis Cluster ({@code
 * redis-cluster://host:port[,host:port...]}, {@code rediss-cluster://} for TLS). Every key of a
 * deployment is in one hash slot, so on Cluster one master and its replicas serve it: failover, not
 * write scaling (separate deployments, with separate key prefixes, spread over the masters). Size
 * Redis for about {@code topics x maxCount x (average event size + 100 bytes)}, counting an event
 * once per topic it was published to.
 *
 * <p>How it works (publishing, announcing and catching up, retention, idempotency keys, device
 * cursors, what uses memory) is described in {@code docs/design.md}, section "herald-redis".
 */
public final class RedisEventLog implements EventLog {
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  /** How often each node deletes expired events of topics nobody publishes to. */
  private static final long SWEEP_INTERVAL_SECONDS = 30;

  /** Topics swept per script call, and the most calls per sweep. */
  private static final int SWEEP_BATCH = 100;

  private static final int SWEEP_ROUNDS = 100;

  /** How long a command may take by default (see {@link Builder#commandTimeout}). */
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(2);

  /** How long an append waits for its {@linkplain Builder#minReplicas replicas} by default. */
  public static final Duration DEFAULT_MIN_REPLICAS_TIMEOUT = Duration.ofSeconds(1);

  /** Ids stay below 2^53, so the Lua scripts hold them exactly in their double numbers. */
  private static final long MAX_ID = 1L << 53;

  private final Keys keys;
  private final String keyPrefix;
  private final Cursors cursorStore;
  private final Retention retention;
  private final long maxAgeMillis;
  private final Clock clock;
  private final Connections connections;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final Announcer announcer;
  private final Appender appender;
  private final Probe probe;

  /**
   * The newest id this node has seen: the publish script never assigns ids below it, so ids are not
   * reused even if Redis lost its data and its clock is behind the one that issued them.
   */
  private final AtomicLong highestSeen = new AtomicLong();

  private final AtomicBoolean closed = new AtomicBoolean();

  /** The newest id this node has seen (its floor for new ids); for tests. */
  long highestSeen() {
    return highestSeen.get();
  }

  private RedisEventLog(Builder builder) {
    this.keys = new Keys(builder.keyPrefix);
    this.keyPrefix = builder.keyPrefix;
    this.retention = builder.retention;
    this.maxAgeMillis = millis(builder.retention.maxAge());
    this.clock = builder.clock;
    this.cursorStore = new Cursors(keys, maxAgeMillis, clock);
    this.connections =
        new Connections(
            builder.uri, builder.commandTimeout, "the Redis event log", "herald-redis-announcer");
    this.redis = connections.redis();
    // Names this log instance in its barrier channel and its request keys.
    String node = UUID.randomUUID().toString();
    this.announcer = new Announcer(keys, keys.barrier(node), connections, highestSeen, this);
    this.appender =
        new Appender(
            keys,
            connections,
            announcer,
            node,
            clock,
            retention.maxCount(),
            maxAgeMillis,
            highestSeen,
            closed::get,
            new Replicas(
                builder.minReplicas,
                builder.minReplicasTimeout.toMillis(),
                connections,
                keys.meta));
    try {
      announcer.start();
    } catch (StoreUnavailableException e) {
      connections.worker().shutdownNow(); // a catch-up it may have begun is of no use now
      connections.close();
      throw e;
    }
    ScheduledFuture<?> unused =
        connections
            .worker()
            .scheduleWithFixedDelay(
                this::sweep, SWEEP_INTERVAL_SECONDS, SWEEP_INTERVAL_SECONDS, TimeUnit.SECONDS);
    this.probe = new Probe(connections, keys.meta);
  }

  /**
   * Returns a builder: {@code redis://127.0.0.1:6379}, key prefix {@code herald:}, {@link
   * Retention#DEFAULT}, the system UTC clock, a 2 s command timeout.
   */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void listener(Listener listener) {
    announcer.listener(listener);
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    Objects.requireNonNull(batch, "batch");
    if (closed.get()) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (batch.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    return appender.append(batch);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One Lua script checks the key, appends and remembers the key, so this holds across every
   * node of the deployment. The key is a Redis string ({@code {prefix}i:<key>...}: the window's end
   * by the publishing node's clock, the first id, the count and the fingerprint) that Redis deletes
   * after the window. A replay stores and announces nothing and completes at once.
   */
  @Override
  public CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(key, "key");
    if (closed.get()) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (batch.isEmpty()) {
      return CompletableFuture.completedFuture(new AppendReceipt(List.of(), false));
    }
    return appender.append(batch, key);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One Lua script per 500 cursors, all sent at once; each key keeps the larger of the stored
   * and the new cursor (nodes may save one device's cursor out of order) and expires after the
   * retention age.
   */
  @Override
  public CompletableFuture<Void> saveCursors(Map<CursorKey, Long> cursors) {
    Objects.requireNonNull(cursors, "cursors");
    if (closed.get()) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (cursors.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> saved;
    try {
      saved = cursorStore.save(redis, cursors);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(connections.unavailable("save device cursors", e));
    }
    return saved.handle(
        (ok, error) -> {
          if (error != null) {
            throw connections.unavailable("save device cursors", error);
          }
          return null;
        });
  }

  /** Reads one cursor; blocks up to the command timeout. */
  @Override
  public Optional<Long> cursor(CursorKey key) {
    Objects.requireNonNull(key, "key");
    if (closed.get()) {
      throw closedException();
    }
    return cursorStore.parse(
        connections.await(redis.get(keys.cursor(key)), "read a device cursor"));
  }

  @Override
  public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
    Objects.requireNonNull(topics, "topics");
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be positive: " + limit);
    }
    if (closed.get()) {
      throw closedException();
    }
    if (topics.isEmpty() || afterId >= MAX_ID) {
      return List.of(); // no id reaches 2^53 (microseconds until the year 2255)
    }
    String[] streams = topics.stream().map(keys::stream).toArray(String[]::new);
    List<Object> reply =
        connections.await(
            Script.READ.run(
                redis,
                ScriptOutputType.MULTI,
                streams,
                Long.toString(Math.max(0, afterId)),
                Integer.toString(limit),
                Long.toString(cutoff())),
            "read");
    return Collections.unmodifiableList(Wire.events(reply));
  }

  @Override
  public long lastId() {
    if (closed.get()) {
      throw closedException();
    }
    String seq = connections.await(redis.hget(keys.meta, "seq"), "read the last id");
    // After Redis lost its data, ids this node saw are still "ever assigned": positions up to
    // them are expired (see droppedThrough), not unknown.
    return highestSeen.accumulateAndGet(seq == null ? 0 : Long.parseLong(seq), Math::max);
  }

  @Override
  public long droppedThrough(Set<String> topics) {
    Objects.requireNonNull(topics, "topics");
    if (closed.get()) {
      throw closedException();
    }
    String[] scriptKeys = new String[2 + topics.size()];
    String[] args = new String[2 + topics.size()];
    scriptKeys[0] = keys.meta;
    scriptKeys[1] = keys.dropped;
    args[0] = Long.toString(cutoff());
    args[1] = Long.toString(highestSeen.get());
    int i = 2;
    for (String topic : topics) {
      scriptKeys[i] = keys.stream(topic);
      args[i] = topic;
      i++;
    }
    String through =
        connections.await(
            Script.DROPPED.run(redis, ScriptOutputType.VALUE, scriptKeys, args),
            "read what retention dropped");
    return Long.parseLong(through);
  }

  /**
   * Starts announcing {@code topic}'s events, from every node, to the listener: subscribes to the
   * topic's channel on the first call and waits (up to the command timeout) until Redis confirmed
   * the subscription. If Redis is unreachable it returns anyway; the log catches up once Redis is
   * back. Calls are counted.
   */
  @Override
  public CompletableFuture<Void> watch(String topic) {
    Topics.check(topic);
    return announcer.watch(topic);
  }

  /** Undoes one {@link #watch}; the last one unsubscribes from the topic's channel. */
  @Override
  public void unwatch(String topic) {
    Objects.requireNonNull(topic, "topic");
    announcer.unwatch(topic);
  }

  /**
   * Whether Redis answers: both connections are up, the last probe was answered, and none has been
   * waiting for an answer longer than a second (or the command timeout, if shorter). The log probes
   * every second with a cheap read of the deployment's meta key, one probe at a time, so this costs
   * nothing and notices Redis hanging (a connection that stays open while Redis does not answer)
   * within about two seconds.
   */
  @Override
  public boolean isAvailable() {
    return !closed.get() && probe.answers();
  }

  /**
   * Closes the connections; appends still in flight fail with {@link
   * PublishOutcomeUnknownException} (Redis may have stored them).
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    announcer.close();
    probe.close();
    connections.close();
  }

  @Override
  public String toString() {
    return "RedisEventLog{" + connections.target() + ", " + keys.meta + ", " + retention + "}";
  }

  /**
   * Counts the reach of {@code node} (a {@link RedisPresence} on the same Redis and key prefix) in
   * this log's publish calls from now on.
   */
  void countReach(String node, long staleMillis) {
    appender.countReach(node, staleMillis);
  }

  /** The subscriptions other nodes have on {@code topics}, counted in the next publish call. */
  CompletableFuture<Map<String, Integer>> reach(Set<String> topics) {
    if (closed.get()) {
      return CompletableFuture.failedFuture(closedException());
    }
    return appender.reach(topics);
  }

  /** This log's key prefix, for a presence that counts reach through it. */
  String keyPrefix() {
    return keyPrefix;
  }

  /**
   * Stops hearing this node's barriers, as a failed link between Cluster nodes would. For tests.
   */
  void loseBarriers() throws Exception {
    announcer.loseBarriers();
  }

  /** Whether the command connection is up: Lettuce refuses commands while it is not. For tests. */
  boolean commandsConnected() {
    return connections.connection().isOpen();
  }

  /** Deletes expired events of quiet topics now; normally every 30 s. For tests. */
  CompletableFuture<Void> sweepNow() {
    return sweepRound(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Retention sweep

  private void sweep() {
    CompletableFuture<Void> unused =
        sweepRound(0)
            .whenComplete(
                (ok, error) -> {
                  if (error != null) {
                    LOG.log(Level.DEBUG, "retention sweep failed: " + error);
                  }
                });
  }

  private CompletableFuture<Void> sweepRound(int round) {
    if (closed.get()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Long> swept =
        Script.SWEEP.run(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {keys.dropped, keys.oldest},
            Long.toString(cutoff()),
            Integer.toString(retention.maxCount()),
            keys.streamPrefix,
            Integer.toString(SWEEP_BATCH));
    return swept.thenCompose(
        count ->
            count >= SWEEP_BATCH && round + 1 < SWEEP_ROUNDS
                ? sweepRound(round + 1)
                : CompletableFuture.completedFuture(null));
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Events stored at or before this instant (ms) are past their retention age. */
  private long cutoff() {
    return clock.millis() - maxAgeMillis;
  }

  private StoreUnavailableException closedException() {
    return new StoreUnavailableException("the Redis event log is closed");
  }

  private static long millis(Duration duration) {
    try {
      return duration.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4; // longer than anything stored can be old
    }
  }

  /** Builds a {@link RedisEventLog}. */
  public static final class Builder {
    private String uri = "redis://127.0.0.1:6379";
    private String keyPrefix = "herald:";
    private Retention retention = Retention.DEFAULT;
    private Clock clock = Clock.systemUTC();
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private int minReplicas;
    private Duration minReplicasTimeout = DEFAULT_MIN_REPLICAS_TIMEOUT;

    private Builder() {}

    /**
     * Sets where Redis is: {@code redis://[:password@]host[:port][/database]}, {@code rediss://}
     * for TLS, {@code redis-sentinel://...} (any URI Lettuce's {@code RedisURI} reads), or a Redis
     * Cluster: {@code redis-cluster://[:password@]host:port[,host:port...]} ({@code
     * rediss-cluster://} for TLS) listing seed nodes; default {@code redis://127.0.0.1:6379}.
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      this.uri = Connector.check(uri);
      return this;
    }

    /**
     * Sets the prefix of every key and channel; default {@code herald:}. Deployments sharing one
     * Redis need different prefixes.
     */
    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = Keys.checkPrefix(keyPrefix);
      return this;
    }

    /** Sets the per-topic retention; default {@link Retention#DEFAULT}. */
    public Builder retention(Retention retention) {
      this.retention = Objects.requireNonNull(retention, "retention");
      return this;
    }

    /**
     * Sets the clock for timestamps and retention by age (ids come from Redis); default system UTC.
     * Every node of a deployment should keep its clock in sync.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets how long a command may take before it fails with {@link StoreUnavailableException}; also
     * the connect timeout. An append whose answer does not come in time is looked for (see the
     * class comment) for up to one more timeout, so it is answered within about twice this. Default
     * 2 s.
     */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = Keys.positive(commandTimeout, "commandTimeout");
      return this;
    }

    /**
     * Sets how many replicas must confirm an append before it completes; default 0 (Redis
     * replicates asynchronously, so a failover may lose acknowledged events). With {@code n > 0}
     * each publish script call is followed by {@code WAIT n timeout} on its connection; when fewer
     * than {@code n} replicas confirm within {@link #minReplicasTimeout}, the append completes
     * exceptionally with {@link ReplicationUnconfirmedException}: the events are stored on the
     * primary (and subscribers may have them) but may be lost if it fails. A keyed replay waits
     * too, so retrying with the same {@link IdempotencyKey} asks the replicas again.
     *
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public Builder minReplicas(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("minReplicas must not be negative: " + n);
      }
      this.minReplicas = n;
      return this;
    }

    /**
     * Sets how long an append waits for {@link #minReplicas} replicas; default 1 s. Must be shorter
     * than the {@link #commandTimeout}, which bounds the {@code WAIT} command too.
     */
    public Builder minReplicasTimeout(Duration timeout) {
      this.minReplicasTimeout = Keys.positive(timeout, "minReplicasTimeout");
      return this;
    }

    /**
     * Connects to Redis and returns the log.
     *
     * @throws StoreUnavailableException if Redis cannot be reached
     * @throws IllegalArgumentException if {@link #minReplicas} is set and its timeout is not
     *     shorter than the command timeout
     */
    public RedisEventLog build() {
      if (minReplicas > 0 && minReplicasTimeout.compareTo(commandTimeout) >= 0) {
        throw new IllegalArgumentException(
            "minReplicasTimeout ("
                + minReplicasTimeout.toMillis()
                + " ms) must be shorter than commandTimeout ("
                + commandTimeout.toMillis()
                + " ms), which bounds the WAIT command");
      }
      return new RedisEventLog(this);
    }
  }
}
