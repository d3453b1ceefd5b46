package dev.herald.redis;

import dev.herald.server.StoreUnavailableException;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Which Lettuce client serves a Redis URI, configured once for every Herald connection: {@code
 * redis-cluster://} and {@code rediss-cluster://} URIs get a {@link RedisClusterClient} (which
 * follows {@code MOVED} and refreshes the topology), any other URI Lettuce's {@link RedisURI} reads
 * ({@code redis://}, {@code rediss://}, {@code redis-sentinel://}, ...) a standalone {@link
 * RedisClient}. Both hand out connections typed by the interfaces they share ({@link
 * RedisClusterAsyncCommands}, {@link StatefulRedisPubSubConnection}), so one code path serves both.
 *
 * <p>Every connection fails fast while disconnected (commands are rejected, not queued), speaks
 * RESP3 (so a subscriber connection also takes commands such as {@code PING}), times commands out
 * after the command timeout, keeps idle sockets alive and reconnects quickly. {@link #close()}
 * closes every connection it opened.
 */
final class Connector implements AutoCloseable {
  /** The cluster schemes: the URI lists seed nodes, {@code host:port} separated by commas. */
  static final String CLUSTER = "redis-cluster://";

  static final String CLUSTER_TLS = "rediss-cluster://";

  private final String target;
  private final ClientResources resources;
  private final AbstractRedisClient client;

  /**
   * Creates the client (no connection yet).
   *
   * @throws IllegalArgumentException if {@code uri} is not a Redis URI
   */
  Connector(String uri, Duration commandTimeout) {
    List<RedisURI> seeds = parse(uri);
    for (RedisURI seed : seeds) {
      seed.setTimeout(commandTimeout);
    }
    this.resources =
        ClientResources.builder()
            .ioThreadPoolSize(2)
            .computationThreadPoolSize(2)
            // Lettuce records every command's latency by default (a histogram update per
            // command, about 2 % of a publishing node's CPU); nothing here reads it.
            .commandLatencyRecorder(CommandLatencyRecorder.disabled())
            // Come back quickly after an outage: subscribers wait for the catch-up.
            .reconnectDelay(
                Delay.exponential(
                    Duration.ofMillis(20), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
            .build();
    if (isCluster(uri)) {
      this.target = "cluster " + describe(seeds);
      RedisClusterClient cluster = RedisClusterClient.create(resources, seeds);
      ClusterClientOptions.Builder options = ClusterClientOptions.builder();
      configure(options, commandTimeout);
      cluster.setOptions(
          options
              // Learn about failovers and resharding from redirects and reconnects at once. An
              // adaptive refresh is allowed once a second (Lettuce's default: once in 30 s): the
              // first one, at the master's death, still sees it as master (the replica is elected
              // only after the cluster's node timeout), and with the default the next look came
              // only 30 s later, every publish to its slot failing until then.
              .topologyRefreshOptions(
                  ClusterTopologyRefreshOptions.builder()
                      .enableAllAdaptiveRefreshTriggers()
                      .adaptiveRefreshTriggersTimeout(Duration.ofSeconds(1))
                      .enablePeriodicRefresh(Duration.ofSeconds(30))
                      .build())
              .build());
      this.client = cluster;
    } else {
      RedisURI single = seeds.get(0);
      this.target =
          single.getSentinels().isEmpty()
              ? single.getHost() + ":" + single.getPort() + "/" + single.getDatabase()
              // Sentinel: the master's address is known only once the Sentinels are asked.
              : "master "
                  + single.getSentinelMasterId()
                  + "/"
                  + single.getDatabase()
                  + " via Sentinel "
                  + describe(single.getSentinels());
      RedisClient standalone = RedisClient.create(resources, single);
      ClientOptions.Builder options = ClientOptions.builder();
      configure(options, commandTimeout);
      standalone.setOptions(options.build());
      this.client = standalone;
    }
  }

  /** Whether {@code uri} names a Redis Cluster. */
  static boolean isCluster(String uri) {
    return uri.startsWith(CLUSTER) || uri.startsWith(CLUSTER_TLS);
  }

  /**
   * Checks a URI without connecting, for the builders: they fail when given it, not at build().
   *
   * @return the URI
   * @throws IllegalArgumentException if it is not a Redis URI
   */
  static String check(String uri) {
    parse(uri);
    return uri;
  }

  /**
   * Where the connections go, for messages: {@code host:port/db}, {@code cluster host:port,...} or
   * {@code master <name>/db via Sentinel host:port,...}.
   */
  String target() {
    return target;
  }

  /** A command connection, and its commands (routed by key slot on Cluster). */
  record Commands(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> async) {}

  /**
   * Opens a command connection.
   *
   * @throws StoreUnavailableException if Redis cannot be reached
   */
  Commands commands() {
    try {
      if (client instanceof RedisClusterClient cluster) {
        StatefulRedisClusterConnection<String, String> connection = cluster.connect();
        return new Commands(connection, connection.async());
      }
      StatefulRedisConnection<String, String> connection = ((RedisClient) client).connect();
      return new Commands(connection, connection.async());
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("cannot connect to Redis at " + target, e);
    }
  }

  /**
   * Opens a Pub/Sub connection. On Cluster it subscribes through one node: Redis Cluster forwards
   * every {@code PUBLISH} to all nodes, so it hears what is published anywhere.
   *
   * @throws StoreUnavailableException if Redis cannot be reached
   */
  StatefulRedisPubSubConnection<String, String> pubSub() {
    try {
      if (client instanceof RedisClusterClient cluster) {
        return cluster.connectPubSub();
      }
      return ((RedisClient) client).connectPubSub();
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("cannot connect to Redis at " + target, e);
    }
  }

  /**
   * The client's own scheduler, for short tasks that never block (the log's readiness probe, its
   * look-ups of appends whose answer was lost); shut down by {@link #close()}.
   */
  ScheduledExecutorService scheduler() {
    return resources.eventExecutorGroup();
  }

  /** Closes every connection it opened and releases the client's threads. */
  @Override
  public void close() {
    try {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    } finally {
      resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  private static void configure(ClientOptions.Builder options, Duration commandTimeout) {
    options
        .autoReconnect(true)
        // Fail fast while disconnected instead of queueing: publishers get a 503 at once.
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        // RESP3: a subscriber connection takes commands too (PING, or reads between messages).
        .protocolVersion(ProtocolVersion.RESP3)
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
        .socketOptions(
            SocketOptions.builder()
                .connectTimeout(commandTimeout)
                // A subscriber connection is mostly idle: without keep-alive a silently dead one
                // (a NAT or balancer dropped it) would go unnoticed, and so would the gap.
                .keepAlive(
                    SocketOptions.KeepAliveOptions.builder()
                        .enable()
                        .idle(Duration.ofSeconds(15))
                        .interval(Duration.ofSeconds(5))
                        .count(3)
                        .build())
                .build());
  }

  /**
   * The seed URIs: {@code redis-cluster://[[user]:password@]host:port[,host:port...][?query]}
   * becomes one {@code redis://} (or {@code rediss://}) URI per seed, sharing the credentials and
   * query; any other URI is read by {@link RedisURI#create}.
   */
  private static List<RedisURI> parse(String uri) {
    Objects.requireNonNull(uri, "uri");
    if (!isCluster(uri)) {
      return List.of(RedisURI.create(uri));
    }
    boolean tls = uri.startsWith(CLUSTER_TLS);
    String rest = uri.substring(tls ? CLUSTER_TLS.length() : CLUSTER.length());
    String query = "";
    int question = rest.indexOf('?');
    if (question >= 0) {
      query = rest.substring(question);
      rest = rest.substring(0, question);
    }
    if (rest.endsWith("/") || rest.endsWith("/0")) {
      rest = rest.substring(0, rest.lastIndexOf('/'));
    }
    if (rest.contains("/")) {
      throw new IllegalArgumentException(
          "a Redis Cluster has only database 0: " + CLUSTER + "host:port[,host:port...]");
    }
    String credentials = "";
    int at = rest.lastIndexOf('@');
    if (at >= 0) {
      credentials = rest.substring(0, at + 1);
      rest = rest.substring(at + 1);
    }
    List<RedisURI> seeds = new ArrayList<>();
    for (String hostPort : rest.split(",", -1)) {
      if (hostPort.isBlank()) {
        throw new IllegalArgumentException(
            "a Redis Cluster URI lists seed nodes: " + CLUSTER + "host:port[,host:port...]");
      }
      seeds.add(RedisURI.create((tls ? "rediss://" : "redis://") + credentials + hostPort + query));
    }
    return seeds;
  }

  private static String describe(List<RedisURI> seeds) {
    List<String> hosts = new ArrayList<>();
    for (RedisURI seed : seeds) {
      hosts.add(seed.getHost() + ":" + seed.getPort());
    }
    return String.join(",", hosts);
  }
}
