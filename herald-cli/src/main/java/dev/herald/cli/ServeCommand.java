package dev.herald.cli;

import dev.herald.hub.Hub;
import dev.herald.hub.HubStartException;
import dev.herald.hub.internal.auth.TokenVerifier;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.spi.EventLog;
import dev.herald.stores.StoreSpec;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code herald serve}: runs the hub until SIGTERM or SIGINT, then shuts down gracefully and exits
 * 0. Every flag can also be set as {@code HERALD_<FLAG>} in the environment.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Run the hub. Every flag also reads HERALD_<FLAG_IN_UPPER_SNAKE> from the env.")
final class ServeCommand implements Callable<Integer> {
  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(names = "--port", description = "TCP port (0: any free port).")
  int port;

  @Option(names = "--bind", description = "Address to listen on.")
  String bind;

  @Option(
      names = "--store",
      description =
          "memory, sqlite:<path>, redis://host:port, redis-cluster://host:port[,host:port...]"
              + " or redis-sentinel://host:port[,host:port...]#<master>.")
  String store;

  @Option(
      names = "--heartbeat",
      converter = Units.DurationConverter.class,
      description = "Idle time before a heartbeat comment, e.g. 15s (0s: none).")
  Duration heartbeat;

  @Option(names = "--retention-count", description = "Events kept per topic.")
  int retentionCount;

  @Option(
      names = "--retention-age",
      converter = Units.DurationConverter.class,
      description = "Age after which events are dropped, e.g. 24h.")
  Duration retentionAge;

  @Option(
      names = "--max-event-bytes",
      converter = Units.SizeConverter.class,
      description = "Largest publish body, e.g. 1MiB (413 above).")
  long maxEventBytes;

  @Option(
      names = "--max-buffer-bytes",
      converter = Units.SizeConverter.class,
      description = "Unsent bytes per stream before it is closed as a slow consumer.")
  long maxBufferBytes;

  @Option(
      names = "--max-connections",
      description =
          "Most open connections (0: no limit); the default is the file-descriptor limit less "
              + Hub.FD_HEADROOM
              + ". Streams may take all but 2%% (at most 1024), kept for publishers.")
  int maxConnections;

  @Option(
      names = "--max-connections-per-ip",
      description = "Most open connections per client address (0: no limit).")
  int maxConnectionsPerIp;

  @Option(
      names = "--fsync",
      arity = "0..1",
      defaultValue = "false",
      fallbackValue = "true",
      description = "Sync every SQLite commit to disk (power-loss safety).")
  boolean fsync;

  @Option(
      names = "--jwt-secret",
      // --help must not print the secret HERALD_JWT_SECRET holds.
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description =
          "HMAC secret (its UTF-8 bytes): at least 32 for HS256, 48 for HS384, 64 for HS512;"
              + " turns auth on. Prefer the env variable HERALD_JWT_SECRET, which ps cannot"
              + " show.")
  String jwtSecret;

  @Option(
      names = "--jwt-public-key",
      description = "PEM public key file (RSA: RS*/PS*, EC: ES*): turns auth on.")
  Path jwtPublicKey;

  @Option(
      names = "--jwks-url",
      description = "JWKS URL, fetched at first use and cached: turns auth on.")
  URI jwksUrl;

  @Option(
      names = "--jwt-clock-skew",
      converter = Units.DurationConverter.class,
      description = "Leeway for the exp and nbf claims.")
  Duration jwtClockSkew;

  @Option(
      names = "--no-query-token",
      arity = "0..1",
      defaultValue = "false",
      fallbackValue = "true",
      description = "Refuse ?access_token= (accept only the Authorization header and the cookie).")
  boolean noQueryToken;

  @Option(
      names = "--allow-anonymous",
      arity = "0..1",
      defaultValue = "false",
      fallbackValue = "true",
      description = "Allow dev mode (no key, anonymous) on a non-loopback address.")
  boolean allowAnonymous;

  @Option(
      names = "--cors-origin",
      split = ",",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description =
          "Origin allowed to call the hub from a browser, with credentials (repeatable; env"
              + " comma-separated); no wildcard.")
  List<String> corsOrigins = new ArrayList<>();

  @Option(
      names = "--max-new-connections-per-second",
      description = "New connections accepted per second, all clients together (0: no limit).")
  int maxNewConnectionsPerSecond;

  @Option(
      names = "--publish-rate",
      description = "Events per second per token subject, per address when anonymous (0: none).")
  double publishRate;

  @Option(
      names = "--max-batch-events",
      description = "Most events in one batch publish (413 batch_too_large above).")
  int maxBatchEvents;

  @Option(
      names = "--io-threads",
      defaultValue = "0",
      description = "Event-loop threads serving connections (0: one per core).")
  int ioThreads;

  @Option(
      names = "--idempotency-window",
      converter = Units.DurationConverter.class,
      description = "How long an Idempotency-Key answers its first publish, e.g. 24h.")
  Duration idempotencyWindow;

  @Option(
      names = "--request-head-timeout",
      converter = Units.DurationConverter.class,
      description =
          "Time a request head may take from its first byte, and a new connection to send its"
              + " first (408 request_timeout; 0s: no limit).")
  Duration requestHeadTimeout;

  @Option(
      names = "--request-body-timeout",
      converter = Units.DurationConverter.class,
      description = "Time a request body may take after its head (408; 0s: no limit).")
  Duration requestBodyTimeout;

  @Option(
      names = "--idle-timeout",
      converter = Units.DurationConverter.class,
      description =
          "Time a keep-alive connection may wait for its next request; never applies to streams"
              + " (0s: no limit).")
  Duration idleTimeout;

  @Option(
      names = "--redis-key-prefix",
      description =
          "Prefix of every Redis key (Redis stores); deployments sharing a Redis need"
              + " different ones.")
  String redisKeyPrefix;

  @Option(
      names = "--redis-min-replicas",
      description =
          "Replicas that must confirm a publish (Redis WAIT) before it is acknowledged; fewer"
              + " within --redis-min-replicas-timeout: 503 replication_unconfirmed (0: do not"
              + " wait; a failover may lose acknowledged events).")
  int redisMinReplicas;

  @Option(
      names = "--redis-min-replicas-timeout",
      converter = Units.DurationConverter.class,
      description = "How long a publish waits for --redis-min-replicas replicas, e.g. 1s.")
  Duration redisMinReplicasTimeout;

  @Option(
      names = "--console",
      arity = "0..1",
      defaultValue = "true",
      fallbackValue = "true",
      description = "Serve the web console at / (false: / is 404 like any unknown path).")
  boolean console;

  @Option(
      names = "--tls-cert",
      description =
          "PEM certificate chain, leaf first: serve HTTPS only (ALPN h2 and http/1.1); needs"
              + " --tls-key. Reloaded for new connections when the file changes.")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      description =
          "PEM private key of --tls-cert: RSA or EC, PKCS#8, PKCS#1 or SEC1, unencrypted.")
  Path tlsKey;

  @Option(
      names = "--max-streams-per-connection",
      description =
          "Most concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).")
  int maxStreamsPerConnection;

  @Option(
      names = "--drain",
      converter = Units.DurationConverter.class,
      description =
          "On SIGTERM: /readyz turns 503, the port closes, and open streams are told to come back"
              + " (retry:) spread over this window; then publishes in flight finish and the store"
              + " closes (0s: all at once).")
  Duration drain;

  private final CountDownLatch stop = new CountDownLatch(1);

  /** The {@code --store} flag, parsed: a usage error names the accepted forms. */
  StoreSpec storeSpec() {
    try {
      return StoreSpec.parse(store);
    } catch (IllegalArgumentException e) {
      throw invalid(e.getMessage());
    }
  }

  /**
   * Builds the hub these flags describe, not started; opens its store.
   *
   * @throws StoreUnavailableException if the store cannot be opened or reached
   */
  Hub hub() {
    StoreSpec storeSpec = storeSpec();
    if (maxEventBytes < 1 || maxEventBytes > Integer.MAX_VALUE) {
      throw invalid("--max-event-bytes must be between 1 byte and 2GiB");
    }
    int keys =
        (jwtSecret != null ? 1 : 0) + (jwtPublicKey != null ? 1 : 0) + (jwksUrl != null ? 1 : 0);
    if (keys > 1) {
      throw invalid("give only one of --jwt-secret, --jwt-public-key and --jwks-url");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw invalid("give --tls-cert and --tls-key together: the certificate chain and its key");
    }
    try {
      Hub.Builder builder = Hub.builder();
      if (tlsCert != null) {
        builder.tls(tlsCert, tlsKey);
      }
      Retention retention = new Retention(retentionCount, retentionAge);
      if (jwtSecret != null) {
        builder.jwtSecret(jwtSecret);
      } else if (jwtPublicKey != null) {
        builder.jwtPublicKey(jwtPublicKey);
      } else if (jwksUrl != null) {
        builder.jwksUrl(jwksUrl);
      }
      if (ioThreads != 0) { // 0: the hub's default, one per core
        builder.ioThreads(ioThreads);
      }
      builder
          .jwtClockSkew(jwtClockSkew)
          .queryTokens(!noQueryToken)
          .allowAnonymous(allowAnonymous)
          .corsOrigins(corsOrigins)
          .maxNewConnectionsPerSecond(maxNewConnectionsPerSecond)
          .publishRate(publishRate)
          .port(port)
          .bind(bind)
          .maxBatchEvents(maxBatchEvents)
          .idempotencyWindow(idempotencyWindow)
          .heartbeat(heartbeat)
          .maxEventBytes((int) maxEventBytes)
          .maxBufferBytes(maxBufferBytes)
          .maxConnections(maxConnections)
          .maxConnectionsPerIp(maxConnectionsPerIp)
          .requestHeadTimeout(requestHeadTimeout)
          .requestBodyTimeout(requestBodyTimeout)
          .idleTimeout(idleTimeout)
          .console(console)
          .maxStreamsPerConnection(maxStreamsPerConnection)
          .drain(drain);
      // Last, once every other flag is known good: the store is opened (and, for Redis, reached).
      StoreSpec.RedisSettings redis =
          new StoreSpec.RedisSettings(redisKeyPrefix, redisMinReplicas, redisMinReplicasTimeout);
      if (redisMinReplicas > 0 && storeSpec.kind() != StoreSpec.Kind.REDIS) {
        throw invalid(
            "--redis-min-replicas applies to a Redis store only; --store is " + storeSpec);
      }
      EventLog log = storeSpec.open(retention, fsync, redis);
      try {
        builder.log(log);
        storeSpec.presence(log, redisKeyPrefix).ifPresent(builder::presence);
        return builder.build();
      } catch (RuntimeException e) {
        log.close();
        throw e;
      }
    } catch (IllegalArgumentException e) {
      throw invalid(e.getMessage());
    }
  }

  private CommandLine.ParameterException invalid(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /** Netty's switch for its buffer leak detector (read when the detector is first loaded). */
  static final String LEAK_DETECTION = "io.netty.leakDetection.level";

  @Override
  public Integer call() {
    // Off unless asked for: Netty samples one buffer in 128 by default and records a stack trace
    // for each, measured at 3 % of the hub's CPU on Redis publishes (docs/performance.md, "Redis
    // group commit"). -Dio.netty.leakDetection.level=simple (or paranoid) turns it back on.
    if (System.getProperty(LEAK_DETECTION) == null) {
      System.setProperty(LEAK_DETECTION, "disabled");
    }
    Hub hub;
    try {
      hub = hub();
    } catch (StoreUnavailableException e) {
      spec.commandLine()
          .getErr()
          .println("herald serve: cannot open the store " + storeSpec() + ": " + e.getMessage());
      return 1;
    }
    PrintWriter out = spec.commandLine().getOut();
    try {
      hub.start();
    } catch (HubStartException e) {
      spec.commandLine().getErr().println("herald serve: " + e.getMessage());
      return 1;
    }
    Signals.onTermination(stop::countDown);
    Thread hook = new Thread(hub::close, "herald-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    out.println(banner(hub.address()));
    out.flush();
    try {
      stop.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    hub.close();
    return 0;
  }

  /** Asks a running {@link #call()} to shut down, as SIGTERM does. */
  void stop() {
    stop.countDown();
  }

  String banner(InetSocketAddress address) {
    return String.join(
        System.lineSeparator(),
        "Herald hub listening on "
            + (tlsCert != null ? "https://" : "http://")
            + address.getHostString()
            + ":"
            + address.getPort(),
        // The parsed spec masks a Redis password: the banner ends up in logs.
        "  store:     "
            + StoreSpec.parse(store)
            + (store.startsWith("sqlite:") ? " (fsync " + fsync + ")" : ""),
        "  retention: " + retentionCount + " events and " + human(retentionAge) + " per topic",
        "  auth:      " + auth(),
        "  cors:      " + (corsOrigins.isEmpty() ? "off" : String.join(", ", corsOrigins)),
        "  limits:    event "
            + maxEventBytes
            + " B, stream buffer "
            + maxBufferBytes
            + " B, connections "
            + (maxConnections == 0 ? "unlimited" : maxConnections)
            + (maxConnectionsPerIp == 0 ? "" : " (" + maxConnectionsPerIp + " per address)")
            + ", new connections "
            + perSecond(maxNewConnectionsPerSecond)
            + ", publishes "
            + perSecond(publishRate)
            + " per publisher, HTTP/2 streams "
            + maxStreamsPerConnection
            + " per connection, drain "
            + human(drain),
        "  heartbeat: " + (heartbeat.isZero() ? "off" : human(heartbeat)),
        "  protocols: "
            + (tlsCert != null
                ? "HTTPS only: HTTP/2 and HTTP/1.1 (ALPN), certificate "
                    + tlsCert
                    + " (reloaded when it changes)"
                : "HTTP/1.1, and HTTP/2 by prior knowledge (h2c); no TLS (--tls-cert)"),
        "  console:   "
            + (console
                ? (tlsCert != null ? "https://" : "http://")
                    + address.getHostString()
                    + ":"
                    + address.getPort()
                    + "/"
                : "off (--console false)"));
  }

  private static String perSecond(double rate) {
    return rate == 0
        ? "unlimited"
        : (rate == Math.rint(rate) ? (long) rate + "" : rate + "") + "/s";
  }

  /** The auth line of the banner: loud in dev mode. */
  String auth() {
    String query = noQueryToken ? ", no query tokens" : ", query tokens on";
    if (jwtSecret != null) {
      return "JWT, HMAC secret (" + TokenVerifier.hmacSummary(jwtSecret) + ")" + query;
    }
    if (jwtPublicKey != null) {
      return "JWT, public key " + jwtPublicKey + query;
    }
    if (jwksUrl != null) {
      return "JWT, JWKS " + jwksUrl + query;
    }
    return "!!! dev mode: anonymous, NO AUTHENTICATION: every request may publish and subscribe"
        + " anywhere; configure --jwt-secret, --jwt-public-key or --jwks-url !!!";
  }

  private static String human(Duration d) {
    return d.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
  }
}
