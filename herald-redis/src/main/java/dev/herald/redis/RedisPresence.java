package dev.herald.redis;

import dev.herald.server.DeviceStream;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.TopicPresence;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.Presence;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.lang.System.Logger.Level;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@link Presence} of the hub nodes sharing one Redis: device streams replace each other across
 * nodes, and presence and reach count every live node. Give it to each node's broker next to its
 * {@link RedisEventLog}, with the same URI and key prefix:
 *
 * <pre>{@code
 * RedisEventLog log = RedisEventLog.builder().uri(uri).build();
 * RedisPresence presence = RedisPresence.builder().uri(uri).build();
 * Broker broker = Broker.builder().log(log).presence(presence).build();
 * }</pre>
 *
 * <p><b>Nodes</b>: each instance is one node with a random id; it writes a heartbeat (Redis' own
 * time) to the zset {@code {prefix}nodes} every {@link Builder#heartbeat} (default 5 s). A node
 * whose heartbeat is older than {@link Builder#staleAfter} (default 15 s) counts as gone: its
 * entries are ignored at once and swept by the next heartbeat of any node. A node that closes
 * gracefully removes its own entries. A node that finds itself taken for gone (a long pause, Redis
 * restarted without its data) writes all its entries again.
 *
 * <p><b>Devices</b>: per topic a hash {@code {prefix}p:<topic>} of device streams, field {@code
 * <device> LF <topics>} (one per device and topic set), value {@code <node> LF <stream id> LF
 * <since>}. An opened stream takes the fields of its topics in one script, which tells the node of
 * the stream it replaced on that node's control channel {@code {prefix}x:<node>}; that node closes
 * its stream ({@code REPLACED}). Two streams of one device on two nodes resolve by their opening
 * times (the later one stays), so nodes' clocks should be in sync (as for retention). A closed
 * stream removes its entries where they are still its own.
 *
 * <p><b>Reach</b>: per topic a hash {@code {prefix}r:<topic>} of each node's number of
 * subscriptions covering it, written shortly after it changes. A publish adds the other live nodes'
 * numbers for the event's topics to its own exact count, read while the event is appended, so it
 * costs no extra round trip; with {@link Builder#log} they are read by the log's publish call
 * itself (one script call per group of publishes, see {@code docs/design.md}). A subscription on
 * another node covering several topics of one event counts once per topic (events to one topic, a
 * member's, count exactly); a stream opened within a few milliseconds of the publish may be missed.
 * 0 means no live subscription anywhere.
 *
 * <p>Each node keeps the set {@code {prefix}k:<node>} of the topics it wrote in, for the sweep. All
 * keys share the deployment's hash tag, like the log's: on Redis Cluster ({@code redis-cluster://})
 * they live on the master of one slot, and a node hears its control channel through whichever node
 * it subscribes at, since the cluster forwards every {@code PUBLISH} to all nodes.
 */
public final class RedisPresence implements Presence {
  private static final System.Logger LOG = System.getLogger(RedisPresence.class.getName());

  /** Topics swept per script call, and the most calls when a node leaves or resyncs. */
  private static final int SWEEP_BATCH = 200;

  private static final int SWEEP_ROUNDS = 1000;

  private static final Script BEAT = presenceScript("presence_beat");
  private static final Script SWEEP = presenceScript("presence_sweep");
  private static final Script OPEN = presenceScript("presence_open");
  private static final Script CLOSE = presenceScript("presence_close");
  private static final Script TOPIC = presenceScript("presence_topic");
  private static final Script REACH = presenceScript("presence_reach");

  private final String node;
  private final String nodes;
  private final String devicePrefix;
  private final String countPrefix;
  private final String indexPrefix;
  private final String controlPrefix;
  private final long heartbeatMillis;
  private final String staleMillis;
  private final String target;

  /** Its worker runs heartbeats, count writes and replacements, in order. */
  private final Connections connections;

  private final RedisClusterAsyncCommands<String, String> redis;

  /** Subscribed to this node's control channel only. */
  private final StatefulRedisPubSubConnection<String, String> control;

  private final Set<String> dirty = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean flushScheduled = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile Local local;

  /** The log whose publish calls count reach, or null: then {@code presence_reach.lua} does. */
  private final RedisEventLog log;

  // Set when a write failed: the next heartbeat rewrites this node's entries.
  private volatile boolean resync;

  private RedisPresence(Builder builder) {
    byte[] id = new byte[8];
    new SecureRandom().nextBytes(id);
    this.node = HexFormat.of().formatHex(id);
    String tag = "{" + builder.keyPrefix + "}";
    this.nodes = tag + "nodes";
    this.devicePrefix = tag + "p:";
    this.countPrefix = tag + "r:";
    this.indexPrefix = tag + "k:";
    this.controlPrefix = tag + "x:";
    this.heartbeatMillis = builder.heartbeat.toMillis();
    this.staleMillis = Long.toString(builder.staleAfter.toMillis());
    this.connections =
        new Connections(
            builder.uri, builder.commandTimeout, "the Redis presence", "herald-redis-presence");
    this.target = connections.target();
    this.redis = connections.redis();
    this.control = connections.pubSub();
    this.log = builder.log;
    if (log != null) {
      log.countReach(node, builder.staleAfter.toMillis());
    }
  }

  /**
   * Returns a builder: {@code redis://127.0.0.1:6379}, key prefix {@code herald:}, a heartbeat
   * every 5 s, gone after 15 s without one, a 2 s command timeout.
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Listens on this node's control channel and writes its first heartbeat.
   *
   * @throws StoreUnavailableException if Redis cannot be reached
   * @throws IllegalStateException if it was bound before
   */
  @Override
  public void bind(Local local) {
    Objects.requireNonNull(local, "local");
    if (this.local != null) {
      throw new IllegalStateException("the presence is already bound to a broker");
    }
    this.local = local;
    control.addListener(
        new RedisPubSubAdapter<String, String>() {
          @Override
          public void message(String channel, String message) {
            // On Lettuce's I/O thread: hand over, never block it.
            connections.execute(() -> onReplaceMessage(message));
          }
        });
    // On Cluster the subscription is on one node, whichever: PUBLISH reaches every node.
    connections.await(control.async().subscribe(controlPrefix + node), "listen");
    connections.await(beatOnce(), "register this node");
    ScheduledFuture<?> unused =
        connections
            .worker()
            .scheduleWithFixedDelay(
                this::beat, heartbeatMillis, heartbeatMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void opened(Stream stream) {
    if (closed.get()) {
      return;
    }
    CursorKey key = stream.key();
    String[] keys = new String[2 + key.topics().size()];
    keys[0] = nodes;
    keys[1] = indexPrefix + node;
    List<String> args = new ArrayList<>();
    args.add(node);
    args.add(field(key));
    args.add(stream.streamId());
    args.add(Long.toString(micros(stream.since())));
    args.add(controlPrefix);
    args.add(staleMillis);
    int i = 2;
    for (String topic : key.topics()) {
      keys[i++] = devicePrefix + topic;
      args.add(topic);
    }
    CompletableFuture<Long> newer =
        OPEN.run(redis, ScriptOutputType.INTEGER, keys, args.toArray(new String[0]));
    newer.whenComplete(
        (answer, failure) -> {
          if (failure != null) {
            writeFailed("record an opened device stream", failure);
          } else if (answer == 1) {
            // The device opened a newer stream elsewhere before this one got here.
            connections.execute(() -> local.replaced(key, stream.streamId()));
          }
        });
  }

  @Override
  public void closed(Stream stream) {
    if (closed.get()) {
      return;
    }
    CursorKey key = stream.key();
    String[] keys = key.topics().stream().map(t -> devicePrefix + t).toArray(String[]::new);
    CompletableFuture<Long> done =
        CLOSE.run(
            redis,
            ScriptOutputType.INTEGER,
            keys,
            field(key),
            node + "\n" + stream.streamId() + "\n");
    done.whenComplete(
        (ok, failure) -> {
          if (failure != null) {
            writeFailed("remove a closed device stream", failure);
          }
        });
  }

  @Override
  public void subscriptionsChanged(String topic) {
    if (dirty.add(topic) && flushScheduled.compareAndSet(false, true)) {
      connections.execute(this::flushCounts);
    }
  }

  @Override
  public CompletableFuture<TopicPresence> remote(String topic) {
    Objects.requireNonNull(topic, "topic");
    CompletableFuture<List<Object>> reply =
        TOPIC.run(
            redis,
            ScriptOutputType.MULTI,
            new String[] {nodes, devicePrefix + topic, countPrefix + topic},
            node,
            staleMillis);
    return unavailableOnFailure(
        reply.thenApply(
            answer -> {
              List<DeviceStream> devices = new ArrayList<>(answer.size() / 2);
              for (int i = 1; i + 1 < answer.size(); i += 2) {
                devices.add(
                    new DeviceStream(
                        (String) answer.get(i),
                        instant(Long.parseLong((String) answer.get(i + 1)))));
              }
              return new TopicPresence(topic, devices, ((Long) answer.get(0)).intValue());
            }),
        "read presence");
  }

  @Override
  public CompletableFuture<Map<String, Integer>> remoteSubscriptionCounts(Set<String> topics) {
    List<String> list = new ArrayList<>(topics);
    if (list.isEmpty()) {
      return CompletableFuture.completedFuture(Map.of());
    }
    if (log != null) {
      return unavailableOnFailure(log.reach(topics), "count subscriptions");
    }
    String[] keys = new String[1 + list.size()];
    keys[0] = nodes;
    for (int i = 0; i < list.size(); i++) {
      keys[1 + i] = countPrefix + list.get(i);
    }
    CompletableFuture<List<Object>> reply =
        REACH.run(redis, ScriptOutputType.MULTI, keys, node, staleMillis);
    return unavailableOnFailure(
        reply.thenApply(
            answer -> {
              Map<String, Integer> counts = new HashMap<>();
              for (int i = 0; i < list.size(); i++) {
                int count = ((Long) answer.get(i)).intValue();
                if (count > 0) {
                  counts.put(list.get(i), count);
                }
              }
              return counts;
            }),
        "count subscriptions");
  }

  /**
   * Stops the heartbeat and removes this node's entries (bounded by the command timeout per batch),
   * then closes the connections. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    connections.stopWorker();
    try {
      // Gone at once for every reader; then the entries go, batch by batch. If this is cut short,
      // another node's heartbeat sweeps the rest.
      connections.await(redis.zadd(nodes, 0, node), "leave");
      sweep(node, true);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "could not remove this node's presence from Redis: " + e.getMessage());
    }
    connections.close();
  }

  /** Stops without removing anything, as a node that dies would. For tests. */
  void abandon() {
    if (closed.compareAndSet(false, true)) {
      connections.close();
    }
  }

  /** This node's id. For tests. */
  String node() {
    return node;
  }

  @Override
  public String toString() {
    return "RedisPresence{" + target + ", " + nodes + ", node " + node + "}";
  }

  // ---------------------------------------------------------------------------------------------

  private void onReplaceMessage(String message) {
    Local bound = local;
    int at = message.indexOf('\n');
    if (bound == null || at < 0) {
      return;
    }
    try {
      String[] parts = message.substring(at + 1).split("\n", -1);
      CursorKey key =
          new CursorKey(parts[0], new TreeSet<>(Arrays.asList(parts).subList(1, parts.length)));
      bound.replaced(key, message.substring(0, at));
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "ignored a malformed message on a Herald control channel", e);
    }
  }

  /** Writes the current count of every changed topic; on the worker thread. */
  private void flushCounts() {
    flushScheduled.set(false);
    for (String topic : dirty) {
      dirty.remove(topic);
      writeCount(topic, local.subscriptionCount(topic));
    }
  }

  private void writeCount(String topic, int count) {
    CompletableFuture<?> done;
    if (count > 0) {
      done =
          redis
              .hset(countPrefix + topic, node, Integer.toString(count))
              .thenCompose(ok -> redis.sadd(indexPrefix + node, topic))
              .toCompletableFuture();
    } else {
      // No subscription here covers it, so no device stream of this node does either: the topic
      // leaves the index too, which would otherwise grow with every topic the node ever served.
      done =
          redis
              .hdel(countPrefix + topic, node)
              .thenCompose(ok -> redis.srem(indexPrefix + node, topic))
              .toCompletableFuture();
    }
    done.whenComplete(
        (ok, failure) -> {
          if (failure != null) {
            writeFailed("write a subscription count", failure);
          }
        });
  }

  private void writeFailed(String what, Throwable failure) {
    if (!closed.get()) {
      resync = true;
      LOG.log(Level.DEBUG, "could not " + what + "; rewriting at the next heartbeat: " + failure);
    }
  }

  private CompletableFuture<List<Object>> beatOnce() {
    return BEAT.run(redis, ScriptOutputType.MULTI, new String[] {nodes}, node, staleMillis);
  }

  /** The heartbeat: on the worker thread, every {@link Builder#heartbeat}. */
  private void beat() {
    try {
      List<Object> answer = connections.await(beatOnce(), "beat");
      if ((Long) answer.get(0) == 1 || resync) {
        resync = false;
        LOG.log(Level.INFO, "writing this node's presence to Redis again");
        rewrite();
      }
      String dead = (String) answer.get(1);
      if (!dead.isEmpty()) {
        sweep(dead, true);
      }
    } catch (RuntimeException e) {
      resync = true;
      LOG.log(Level.DEBUG, "presence heartbeat failed: " + e);
    }
  }

  /** Replaces everything this node has in Redis by what its broker has now. */
  private void rewrite() {
    sweep(node, false);
    for (Stream stream : local.deviceStreams()) {
      opened(stream);
    }
    local.subscriptionCounts().forEach(this::writeCount);
  }

  /** Removes a node's entries, a batch per round trip. */
  private void sweep(String whose, boolean forget) {
    for (int round = 0; round < SWEEP_ROUNDS; round++) {
      long left =
          connections.await(
              SWEEP.<Long>run(
                  redis,
                  ScriptOutputType.INTEGER,
                  new String[] {nodes, indexPrefix + whose},
                  whose,
                  devicePrefix,
                  countPrefix,
                  Integer.toString(SWEEP_BATCH),
                  forget ? "1" : "0",
                  staleMillis),
              "sweep");
      if (left == 0) {
        return;
      }
    }
  }

  private <T> CompletableFuture<T> unavailableOnFailure(CompletableFuture<T> future, String what) {
    return future.exceptionallyCompose(
        failure -> CompletableFuture.failedFuture(connections.unavailable(what, failure)));
  }

  private static String field(CursorKey key) {
    return key.deviceId() + "\n" + key.topicsText();
  }

  private static long micros(Instant instant) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, instant);
  }

  private static Instant instant(long micros) {
    return Instant.EPOCH.plus(micros, ChronoUnit.MICROS);
  }

  /** A presence script: {@code presence_common.lua}, then its own file. */
  private static Script presenceScript(String name) {
    return Script.load("presence_common", name);
  }

  /** Builds a {@link RedisPresence}. */
  public static final class Builder {
    private String uri = "redis://127.0.0.1:6379";
    private String keyPrefix = "herald:";
    private Duration heartbeat = Duration.ofSeconds(5);
    private Duration staleAfter = Duration.ofSeconds(15);
    private Duration commandTimeout = Duration.ofSeconds(2);
    private RedisEventLog log;

    private Builder() {}

    /**
     * Sets where Redis is, the log's URI ({@link RedisEventLog.Builder#uri}): standalone, Sentinel
     * or Redis Cluster ({@code redis-cluster://host:port[,host:port...]}); default {@code
     * redis://127.0.0.1:6379}.
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      this.uri = Connector.check(uri);
      return this;
    }

    /** Sets the key prefix: the log's, {@link RedisEventLog.Builder#keyPrefix}; default herald:. */
    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = Keys.checkPrefix(keyPrefix);
      return this;
    }

    /** Sets how often this node tells Redis it is alive; default 5 s. */
    public Builder heartbeat(Duration heartbeat) {
      this.heartbeat = Keys.positive(heartbeat, "heartbeat");
      return this;
    }

    /**
     * Sets how long after its last heartbeat a node counts as gone (its devices and subscriptions
     * no longer listed or counted); default 15 s. Must exceed the heartbeat interval.
     */
    public Builder staleAfter(Duration staleAfter) {
      this.staleAfter = Keys.positive(staleAfter, "staleAfter");
      return this;
    }

    /** Sets how long a command may take; also the connect timeout. Default 2 s. */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = Keys.positive(commandTimeout, "commandTimeout");
      return this;
    }

    /**
     * Counts reach inside the publish calls of {@code log} (the same node's log, on the same Redis
     * with the same key prefix) instead of with a script call of its own per publish: the counts
     * are read in the same atomic step that stores the event. Without it the presence reads them
     * with a call of its own, sent while the event is appended.
     */
    public Builder log(RedisEventLog log) {
      this.log = Objects.requireNonNull(log, "log");
      return this;
    }

    /**
     * Connects to Redis and returns the presence; it joins the deployment when a broker binds it.
     *
     * @throws StoreUnavailableException if Redis cannot be reached
     * @throws IllegalArgumentException if {@code staleAfter} does not exceed {@code heartbeat}, or
     *     the {@link #log} has another key prefix
     */
    public RedisPresence build() {
      if (staleAfter.compareTo(heartbeat) <= 0) {
        throw new IllegalArgumentException(
            "staleAfter (" + staleAfter + ") must exceed the heartbeat (" + heartbeat + ")");
      }
      if (log != null && !log.keyPrefix().equals(keyPrefix)) {
        throw new IllegalArgumentException(
            "the log's key prefix \""
                + log.keyPrefix()
                + "\" differs from the presence's \""
                + keyPrefix
                + "\": they count reach together only on one deployment's keys");
      }
      return new RedisPresence(this);
    }
  }
}
