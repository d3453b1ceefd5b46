package dev.herald.hub;

import dev.herald.core.internal.Checks;
import dev.herald.core.internal.DaemonThreads;
import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.auth.Authenticator;
import dev.herald.hub.internal.auth.TokenVerifier;
import dev.herald.hub.internal.console.ConsoleHandler;
import dev.herald.hub.internal.h2.Http2Connections;
import dev.herald.hub.internal.health.HealthHandler;
import dev.herald.hub.internal.http.ConnectionLimiter;
import dev.herald.hub.internal.http.CorsHandler;
import dev.herald.hub.internal.http.ErrorResponder;
import dev.herald.hub.internal.http.RateLimiter;
import dev.herald.hub.internal.http.Router;
import dev.herald.hub.internal.metrics.HubMetrics;
import dev.herald.hub.internal.metrics.MetricsHandler;
import dev.herald.hub.internal.presence.PresenceHandler;
import dev.herald.hub.internal.publish.PublishHandler;
import dev.herald.hub.internal.stats.StatsHandler;
import dev.herald.hub.internal.subscribe.SubscribeHandler;
import dev.herald.hub.internal.tls.ServerTls;
import dev.herald.server.Broker;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Herald hub: the HTTP API of docs/http-api.md on Netty — {@code GET /events} to subscribe,
 * {@code POST /events} to publish, {@code /presence}, {@code /stats}, {@code /healthz}, {@code
 * /readyz} and {@code /metrics}, and the web console at {@code /} ({@link Builder#console}) — over
 * a {@link Broker} and its event log.
 *
 * <pre>{@code
 * Hub hub = Hub.builder().port(0).build().start(); // a memory log; .log(...) for another
 * URI events = URI.create("http://" + hub.address().getHostString() + ":"
 *     + hub.address().getPort() + "/events");
 * ...
 * hub.close(); // ends every stream cleanly and closes the store
 * }</pre>
 *
 * <p>Authentication is on when a key is configured ({@link Builder#jwtSecret}, {@link
 * Builder#jwtPublicKey}, {@link Builder#jwksUrl}); without one the hub runs in dev mode (anonymous,
 * everything allowed) and refuses to bind a non-loopback address unless {@link
 * Builder#allowAnonymous} is set. See {@code docs/security.md}.
 *
 * <p>The port speaks HTTP/1.1 and cleartext HTTP/2 by prior knowledge, or, with {@link
 * Builder#tls}, HTTPS only with HTTP/2 and HTTP/1.1 by ALPN; every request is served the same on
 * both protocols, and an HTTP/2 connection carries up to {@link Builder#maxStreamsPerConnection}
 * streams.
 *
 * <p>Native epoll is used on Linux when available, NIO elsewhere. {@link #close()} is graceful: it
 * stops accepting, ends every stream with the terminating chunk (clients see end of stream and
 * reconnect), flushes and closes the store, all within {@value #SHUTDOWN_SECONDS} seconds.
 */
public final class Hub implements AutoCloseable {
  /** The default port. */
  public static final int DEFAULT_PORT = 8080;

  /** The default address to listen on: loopback only. */
  public static final String DEFAULT_BIND = "127.0.0.1";

  /** The default largest publish request body: 1 MiB. */
  public static final int DEFAULT_MAX_EVENT_BYTES = 1 << 20;

  /** The default unsent bytes a stream may hold before it is closed as a slow consumer: 1 MiB. */
  public static final long DEFAULT_MAX_BUFFER_BYTES = 1L << 20;

  /** The default most open connections. */
  public static final int DEFAULT_MAX_CONNECTIONS = 10_000;

  /** The default most events in one batch publish. */
  public static final int DEFAULT_MAX_BATCH_EVENTS = 1000;

  /** The default time an {@code Idempotency-Key} answers its first publish. */
  public static final Duration DEFAULT_IDEMPOTENCY_WINDOW = Duration.ofHours(24);

  /** The default leeway for {@code exp} and {@code nbf}. */
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(30);

  /** The default limit of new connections per second. */
  public static final int DEFAULT_NEW_CONNECTIONS_PER_SECOND = 1000;

  /** The default limit of events per second per publisher. */
  public static final double DEFAULT_PUBLISH_RATE = 1000;

  /** The default time a request head may take from its first byte (and a new connection's). */
  public static final Duration DEFAULT_REQUEST_HEAD_TIMEOUT = Duration.ofSeconds(10);

  /** The default time a request body may take from the end of its head. */
  public static final Duration DEFAULT_REQUEST_BODY_TIMEOUT = Duration.ofSeconds(30);

  /** The default time a keep-alive connection may wait for its next request. */
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);

  /**
   * The default most concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
   */
  public static final int DEFAULT_MAX_STREAMS_PER_CONNECTION = 100;

  /** The longest a graceful {@link #close()} takes. */
  public static final int SHUTDOWN_SECONDS = 10;

  private static final Logger LOG = LoggerFactory.getLogger(Hub.class);

  private final int port;
  private final String bind;
  private final java.util.function.Supplier<EventLog> logs;
  private final Optional<Presence> presence;
  private final Duration heartbeat;
  private final int maxEventBytes;
  private final long maxBufferBytes;
  private final int maxConnections;
  private final int maxConnectionsPerIp;
  private final Clock clock;
  private final Function<Duration, TokenVerifier> key;
  private final Duration clockSkew;
  private final boolean queryTokens;
  private final boolean allowAnonymous;
  private final Set<String> corsOrigins;
  private final int maxNewConnectionsPerSecond;
  private final double publishRate;
  private final int maxBatchEvents;
  private final Duration idempotencyWindow;
  private final int ioThreads;
  private final Duration requestHeadTimeout;
  private final Duration requestBodyTimeout;
  private final Duration idleTimeout;
  private final boolean console;
  private final Optional<Path[]> tls;
  private final int maxStreamsPerConnection;
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closing = new AtomicBoolean();
  private volatile boolean shuttingDown;
  private volatile InetSocketAddress address;
  private Broker broker;
  private HubMetrics metrics;
  private SubscribeHandler subscribe;
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private Channel server;
  private ChannelGroup connections;
  private ChannelGroup streams;
  private ThreadPoolExecutor jwksVerifications;
  private ErrorResponder errors;

  private Hub(Builder b) {
    this.port = b.port;
    this.bind = b.bind;
    this.logs = b.logs;
    this.presence = b.presence;
    this.heartbeat = b.heartbeat;
    this.maxEventBytes = b.maxEventBytes;
    this.maxBufferBytes = b.maxBufferBytes;
    this.maxConnections = b.maxConnections;
    this.maxConnectionsPerIp = b.maxConnectionsPerIp;
    this.clock = b.clock;
    this.key = b.key;
    this.clockSkew = b.clockSkew;
    this.queryTokens = b.queryTokens;
    this.allowAnonymous = b.allowAnonymous;
    this.corsOrigins = Set.copyOf(b.corsOrigins);
    this.maxNewConnectionsPerSecond = b.maxNewConnectionsPerSecond;
    this.publishRate = b.publishRate;
    this.maxBatchEvents = b.maxBatchEvents;
    this.idempotencyWindow = b.idempotencyWindow;
    this.ioThreads = b.ioThreads;
    this.requestHeadTimeout = b.requestHeadTimeout;
    this.requestBodyTimeout = b.requestBodyTimeout;
    this.idleTimeout = b.idleTimeout;
    this.console = b.console;
    this.tls = b.tls;
    this.maxStreamsPerConnection = b.maxStreamsPerConnection;
  }

  /** Returns a builder with the defaults of {@code herald serve}. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens the store and binds the address; the hub serves requests when this returns.
   *
   * @return this hub
   * @throws HubStartException if the store cannot be opened, the address cannot be bound, or the
   *     address is not loopback while no key is configured and anonymous access was not allowed
   * @throws IllegalStateException if the hub was started before
   */
  public Hub start() {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("the hub was already started");
    }
    Optional<TokenVerifier> verifier = Optional.ofNullable(key).map(k -> k.apply(clockSkew));
    if (verifier.isEmpty() && !allowAnonymous && !isLoopback(bind)) {
      throw new HubStartException(
          "refusing to listen on "
              + bind
              + " without authentication: anyone who can reach it could publish and subscribe."
              + " Configure a key (--jwt-secret, --jwt-public-key or --jwks-url), bind 127.0.0.1,"
              + " or pass --allow-anonymous to run without authentication on purpose",
          null);
    }
    Optional<ServerTls> serverTls;
    try {
      serverTls = tls.map(files -> ServerTls.load(files[0], files[1]));
    } catch (IllegalArgumentException e) {
      throw new HubStartException("cannot serve TLS: " + e.getMessage(), e);
    }
    EventLog log = openLog();
    ConnectionLimiter limiter =
        new ConnectionLimiter(
            maxConnections, maxConnectionsPerIp, RateLimiter.perSecond(maxNewConnectionsPerSecond));
    metrics = new HubMetrics(limiter::openConnections);
    broker = openBroker(log);
    boolean epoll = Epoll.isAvailable();
    // Named threads, so that a thread dump shows which pool is which.
    ThreadFactory acceptThread = new DefaultThreadFactory("herald-accept");
    ThreadFactory ioThread = new DefaultThreadFactory("herald-io");
    boss =
        epoll ? new EpollEventLoopGroup(1, acceptThread) : new NioEventLoopGroup(1, acceptThread);
    workers =
        epoll
            ? new EpollEventLoopGroup(ioThreads, ioThread)
            : new NioEventLoopGroup(ioThreads, ioThread);
    connections = new DefaultChannelGroup("herald-connections", GlobalEventExecutor.INSTANCE);
    streams = new DefaultChannelGroup("herald-streams", GlobalEventExecutor.INSTANCE);
    subscribe =
        new SubscribeHandler(
            broker, streams, PooledByteBufAllocator.DEFAULT, maxBufferBytes, clock, clockSkew);
    jwksVerifications =
        new ThreadPoolExecutor(
            2,
            2,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(10_000),
            DaemonThreads.named("herald-jwks"));
    jwksVerifications.allowCoreThreadTimeOut(true);
    errors = new ErrorResponder(metrics::refused);
    Pipeline pipeline =
        new Pipeline(
            connections,
            maxEventBytes,
            limiter,
            new CorsHandler(corsOrigins),
            new Router(() -> shuttingDown, console),
            new AuthHandler(
                verifier.map(v -> new Authenticator(v, queryTokens, clock)), jwksVerifications),
            new PublishHandler(
                broker,
                metrics,
                clock,
                RateLimiter.perSecond(publishRate),
                maxBatchEvents,
                idempotencyWindow),
            subscribe,
            new PresenceHandler(broker),
            new HealthHandler(() -> broker.log().isAvailable(), () -> shuttingDown),
            new MetricsHandler(metrics),
            new StatsHandler(
                metrics,
                () -> broker.log().isAvailable(),
                () -> shuttingDown,
                broker.log().getClass().getSimpleName(),
                System::nanoTime),
            console ? Optional.of(new ConsoleHandler()) : Optional.empty(),
            errors,
            requestHeadTimeout,
            requestBodyTimeout,
            idleTimeout,
            serverTls,
            maxStreamsPerConnection);
    metrics.gauge(
        "herald.h2.connections", "Open HTTP/2 connections", pipeline.h2()::openConnections);
    metrics.gauge(
        "herald.h2.streams", "Open HTTP/2 streams, on all connections", pipeline.h2()::openStreams);
    Class<? extends ServerChannel> channelType =
        epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    try {
      server =
          new ServerBootstrap()
              .group(boss, workers)
              .channel(channelType)
              .option(ChannelOption.SO_BACKLOG, 1024)
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childHandler(pipeline)
              .bind(bind, port)
              .syncUninterruptibly()
              .channel();
    } catch (Exception e) {
      // syncUninterruptibly rethrows the bind's IOException unchecked: catch everything here.
      shutDownQuietly();
      throw new HubStartException(
          "cannot listen on " + bind + ":" + port + ": " + e.getMessage(), e);
    }
    address = (InetSocketAddress) server.localAddress();
    LOG.info(
        "listening on {} ({} transport, {}), store {}",
        address,
        epoll ? "epoll" : "nio",
        serverTls.isPresent()
            ? "TLS only, ALPN h2 and http/1.1"
            : "HTTP/1.1 and HTTP/2 by prior knowledge",
        broker.log());
    serverTls.ifPresent(t -> LOG.info("TLS certificate: {}", t.description()));
    if (verifier.isPresent()) {
      LOG.info(
          "auth: JWT with {}, clock skew {}, query tokens {}",
          verifier.get().description(),
          clockSkew,
          queryTokens ? "on" : "off");
    } else {
      LOG.warn(
          "auth: DEV MODE, no key configured: every request is anonymous and may publish and"
              + " subscribe anywhere{}",
          allowAnonymous ? " (--allow-anonymous)" : "");
    }
    return this;
  }

  /** Whether {@code host} is a loopback address; a name that does not resolve is not. */
  static boolean isLoopback(String host) {
    try {
      for (InetAddress address : InetAddress.getAllByName(host)) {
        if (!address.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Whether authentication is on (a key is configured); otherwise the hub is in dev mode. */
  public boolean authenticates() {
    return key != null;
  }

  private EventLog openLog() {
    try {
      return logs.get();
    } catch (StoreUnavailableException e) {
      throw new HubStartException("cannot open the event log: " + e.getMessage(), e);
    }
  }

  /** The broker on {@code log}, with the cluster-wide presence if one was given. */
  private Broker openBroker(EventLog log) {
    Broker.Builder builder = Broker.builder().log(log).heartbeat(heartbeat).listener(metrics);
    presence.ifPresent(builder::presence);
    try {
      return builder.build();
    } catch (StoreUnavailableException e) {
      log.close();
      metrics.close();
      throw new HubStartException("cannot open the presence: " + e.getMessage(), e);
    }
  }

  /**
   * The address the hub listens on, with the actual port when it was started with port 0.
   *
   * @throws IllegalStateException if the hub has not started
   */
  public InetSocketAddress address() {
    InetSocketAddress bound = address;
    if (bound == null) {
      throw new IllegalStateException("the hub has not started");
    }
    return bound;
  }

  /**
   * Shuts down gracefully, within {@value #SHUTDOWN_SECONDS} seconds: stops accepting, refuses new
   * requests with 503, ends every stream with the terminating chunk, closes the store and the
   * remaining connections. Idempotent.
   */
  @Override
  public void close() {
    if (address == null || !closing.compareAndSet(false, true)) {
      // Never started, or a failed start already released everything; or closed before.
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SHUTDOWN_SECONDS);
    shuttingDown = true;
    LOG.info("shutting down: {} streams open", streams.size());
    server.close().awaitUninterruptibly(remainingMillis(deadline, 1000));
    // HTTP/2 clients hear GOAWAY: no new stream here; the open ones end below, each cleanly.
    connections.forEach(Http2Connections::goAway);
    // Each stream hears SHUTDOWN and writes its terminating chunk; then the store is flushed.
    broker.close();
    // Clients that read get their end of stream; the rest are cut off when the time is up.
    streams.newCloseFuture().awaitUninterruptibly(remainingMillis(deadline, 7000));
    connections.close().awaitUninterruptibly(remainingMillis(deadline, 1000));
    shutDownQuietly();
    LOG.info("stopped");
  }

  private void shutDownQuietly() {
    if (broker != null) {
      broker.close();
    }
    if (subscribe != null) {
      subscribe.close();
    }
    if (jwksVerifications != null) {
      jwksVerifications.shutdownNow();
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
    if (errors != null) {
      errors.flushLog();
    }
    if (metrics != null) {
      metrics.close();
    }
  }

  private static long remainingMillis(long deadline, long most) {
    return Math.max(1, Math.min(most, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
  }

  /**
   * Configures a {@link Hub}; the defaults are those of {@code herald serve}. Every setter checks
   * its value at once.
   */
  public static final class Builder {
    private int port = DEFAULT_PORT;
    private String bind = DEFAULT_BIND;
    // A fresh memory log per build unless one is given: each hub closes its log.
    private java.util.function.Supplier<EventLog> logs = () -> MemoryEventLog.builder().build();
    private Optional<Presence> presence = Optional.empty();
    private Duration heartbeat = Broker.DEFAULT_HEARTBEAT;
    private int maxEventBytes = DEFAULT_MAX_EVENT_BYTES;
    private long maxBufferBytes = DEFAULT_MAX_BUFFER_BYTES;
    private int maxConnections = DEFAULT_MAX_CONNECTIONS;
    private int maxConnectionsPerIp;
    private Clock clock = Clock.systemUTC();
    private Function<Duration, TokenVerifier> key;
    private Duration clockSkew = DEFAULT_CLOCK_SKEW;
    private boolean queryTokens = true;
    private boolean allowAnonymous;
    private final Set<String> corsOrigins = new LinkedHashSet<>();
    private int maxNewConnectionsPerSecond = DEFAULT_NEW_CONNECTIONS_PER_SECOND;
    private double publishRate = DEFAULT_PUBLISH_RATE;
    private int maxBatchEvents = DEFAULT_MAX_BATCH_EVENTS;
    private Duration idempotencyWindow = DEFAULT_IDEMPOTENCY_WINDOW;
    private int ioThreads = Runtime.getRuntime().availableProcessors();
    private Duration requestHeadTimeout = DEFAULT_REQUEST_HEAD_TIMEOUT;
    private Duration requestBodyTimeout = DEFAULT_REQUEST_BODY_TIMEOUT;
    private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
    private boolean console = true;
    private Optional<Path[]> tls = Optional.empty();
    private int maxStreamsPerConnection = DEFAULT_MAX_STREAMS_PER_CONNECTION;

    private Builder() {}

    /**
     * Whether {@code GET /} serves the web console (a static page that subscribes, publishes and
     * shows presence and {@code /stats} through the API, with the user's token); default true. Off,
     * {@code /} and {@code /console/...} are 404 like any unknown path.
     */
    public Builder console(boolean serve) {
      this.console = serve;
      return this;
    }

    /**
     * Serves HTTPS only, with the certificate chain (leaf first) and private key in these PEM
     * files: RSA or EC keys, PKCS#8 ({@code PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE KEY}) or SEC1
     * ({@code EC PRIVATE KEY}), unencrypted. ALPN offers {@code h2} and {@code http/1.1}. The files
     * are checked for changes at most once a second as connections arrive, and a changed pair is
     * loaded for new connections; open ones keep theirs. Default: no TLS (HTTP/1.1, and HTTP/2 by
     * prior knowledge).
     *
     * @throws IllegalArgumentException if the files cannot be read, hold no such certificate or
     *     key, or the key is not the certificate's
     */
    public Builder tls(Path certificateChain, Path privateKey) {
      Objects.requireNonNull(certificateChain, "certificateChain");
      Objects.requireNonNull(privateKey, "privateKey");
      ServerTls.check(certificateChain, privateKey);
      this.tls = Optional.of(new Path[] {certificateChain, privateKey});
      return this;
    }

    /**
     * The most concurrent streams one HTTP/2 connection may open (SETTINGS_MAX_CONCURRENT_STREAMS;
     * a stream over it is refused with RST_STREAM {@code REFUSED_STREAM}, and the client retries
     * it); {@link #maxConnections} counts connections. Default 100.
     *
     * @throws IllegalArgumentException if {@code max} is less than 1
     */
    public Builder maxStreamsPerConnection(int max) {
      this.maxStreamsPerConnection = Checks.positive("maxStreamsPerConnection", max);
      return this;
    }

    /**
     * Turns authentication on with HS256/384/512 and the UTF-8 bytes of {@code secret}; replaces
     * any other key.
     *
     * @throws IllegalArgumentException if the secret is shorter than 32 bytes (256 bits)
     */
    public Builder jwtSecret(String secret) {
      Objects.requireNonNull(secret, "secret");
      TokenVerifier.secret(secret, Duration.ZERO);
      this.key = skew -> TokenVerifier.secret(secret, skew);
      return this;
    }

    /**
     * Turns authentication on with the RSA or EC public key in a PEM file ({@code -----BEGIN PUBLIC
     * KEY-----}): RS256/384/512 and PS* for RSA, the ES algorithm of the key's curve for EC.
     * Replaces any other key.
     *
     * @throws IllegalArgumentException if the file cannot be read or holds no such key
     */
    public Builder jwtPublicKey(Path pem) {
      Objects.requireNonNull(pem, "pem");
      TokenVerifier.publicKey(pem, Duration.ZERO);
      this.key = skew -> TokenVerifier.publicKey(pem, skew);
      return this;
    }

    /**
     * Turns authentication on with the keys of a JWKS URL: fetched at first use, cached, with a
     * timeout; while it cannot be fetched, requests are answered 503 {@code jwks_unavailable}.
     * Replaces any other key.
     *
     * @throws IllegalArgumentException if {@code url} is not an http(s) URL
     */
    public Builder jwksUrl(URI url) {
      Objects.requireNonNull(url, "url");
      TokenVerifier.jwks(url, Duration.ZERO);
      this.key = skew -> TokenVerifier.jwks(url, skew);
      return this;
    }

    /** The leeway for {@code exp} and {@code nbf}; default 30 s. */
    public Builder jwtClockSkew(Duration skew) {
      this.clockSkew = Checks.notNegative("jwtClockSkew", skew);
      return this;
    }

    /** Whether {@code ?access_token=} is accepted (browsers' EventSource); default true. */
    public Builder queryTokens(boolean accept) {
      this.queryTokens = accept;
      return this;
    }

    /** Whether dev mode (no key) may bind a non-loopback address; default false. */
    public Builder allowAnonymous(boolean allow) {
      this.allowAnonymous = allow;
      return this;
    }

    /**
     * The origins allowed to call the hub from a browser (CORS, with credentials), e.g. {@code
     * https://app.example}; default none (CORS off). Requests from other origins are refused 403
     * {@code origin_not_allowed}. A wildcard is refused: every response may be credentialed.
     *
     * @throws IllegalArgumentException for {@code *} or anything that is not scheme://host[:port]
     */
    public Builder corsOrigins(Collection<String> origins) {
      List<String> checked = new ArrayList<>();
      for (String origin : origins) {
        checked.add(checkOrigin(origin));
      }
      corsOrigins.clear();
      corsOrigins.addAll(checked);
      return this;
    }

    private static String checkOrigin(String origin) {
      Objects.requireNonNull(origin, "origin");
      if (origin.contains("*")) {
        throw new IllegalArgumentException(
            "--cors-origin does not accept wildcards (\""
                + origin
                + "\"): the hub answers with credentials (cookie tokens), so list each origin,"
                + " e.g. https://app.example");
      }
      URI uri;
      try {
        uri = URI.create(origin);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("not an origin: \"" + origin + "\"", e);
      }
      if (uri.getScheme() == null
          || uri.getHost() == null
          || !(uri.getRawPath() == null || uri.getRawPath().isEmpty())
          || uri.getRawQuery() != null
          || uri.getRawUserInfo() != null) {
        throw new IllegalArgumentException(
            "not an origin: \""
                + origin
                + "\"; write scheme://host[:port] without a path, e.g. https://app.example");
      }
      return origin;
    }

    /**
     * New connections accepted per second, across all clients (a token bucket holding one second's
     * worth; beyond it 503 {@code too_many_connections} with {@code Retry-After}); open streams are
     * never evicted. Default 1000, 0 for no limit.
     */
    public Builder maxNewConnectionsPerSecond(int perSecond) {
      this.maxNewConnectionsPerSecond = Checks.notNegative("maxNewConnectionsPerSecond", perSecond);
      return this;
    }

    /**
     * Events each publisher may publish per second: per token subject, per client address when
     * anonymous (beyond it 429 {@code rate_limited} with {@code Retry-After}; bursts of one
     * second's worth). Default 1000, 0 for no limit.
     */
    public Builder publishRate(double perSecond) {
      if (!(perSecond >= 0) || Double.isInfinite(perSecond)) {
        throw new IllegalArgumentException("publishRate must be a finite rate >= 0: " + perSecond);
      }
      this.publishRate = perSecond;
      return this;
    }

    /**
     * Event-loop threads that serve connections; default one per available processor. More threads
     * than cores cost CPU: a publish hands each delivery to the subscriber's thread, and a thread
     * that must be woken for it costs a context switch (docs/performance.md, "I/O threads").
     *
     * @throws IllegalArgumentException if {@code threads} is less than 1
     */
    public Builder ioThreads(int threads) {
      this.ioThreads = Checks.positive("ioThreads", threads);
      return this;
    }

    /**
     * The most events one batch publish (a JSON array or NDJSON body) may hold, beyond it 413
     * {@code batch_too_large}; the body limit ({@link #maxEventBytes}) still applies. Default 1000.
     */
    public Builder maxBatchEvents(int max) {
      this.maxBatchEvents = Checks.positive("maxBatchEvents", max);
      return this;
    }

    /**
     * How long the store remembers a publish's {@code Idempotency-Key} (a retry within it answers
     * the first ids and publishes nothing); default 24 h.
     */
    public Builder idempotencyWindow(Duration window) {
      this.idempotencyWindow = Checks.positive("idempotencyWindow", window);
      return this;
    }

    /**
     * How long a request head may take from its first byte, and a new connection until its first
     * request head is complete: a partial head is then answered 408 {@code request_timeout}, a
     * connection that sent nothing is closed. Default 10 s, zero for no limit.
     */
    public Builder requestHeadTimeout(Duration timeout) {
      this.requestHeadTimeout = Checks.notNegative("requestHeadTimeout", timeout);
      return this;
    }

    /**
     * How long a request body may take from the end of its head (beyond it 408 {@code
     * request_timeout}). Default 30 s, zero for no limit.
     */
    public Builder requestBodyTimeout(Duration timeout) {
      this.requestBodyTimeout = Checks.notNegative("requestBodyTimeout", timeout);
      return this;
    }

    /**
     * How long a keep-alive connection may wait for its next request before it is closed; event
     * streams are never idle-timed-out (heartbeats keep them). Default 60 s, zero for no limit.
     */
    public Builder idleTimeout(Duration timeout) {
      this.idleTimeout = Checks.notNegative("idleTimeout", timeout);
      return this;
    }

    /** The TCP port, 0 for any free one; default 8080. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0-65535: " + port);
      }
      this.port = port;
      return this;
    }

    /** The address to bind; default {@code 127.0.0.1}. */
    public Builder bind(String host) {
      this.bind = Objects.requireNonNull(host, "host");
      return this;
    }

    /**
     * The event log: {@link MemoryEventLog} by default, or a durable one ({@code SqliteEventLog},
     * {@code RedisEventLog}; the CLI's {@code --store} builds them with {@code herald-stores}). The
     * hub owns it: it closes it on {@link Hub#close()}. Retention is the log's own setting.
     */
    public Builder log(EventLog log) {
      Objects.requireNonNull(log, "log");
      this.logs = () -> log;
      return this;
    }

    /**
     * The directory of device streams shared by the nodes of one deployment ({@code RedisPresence}
     * on the same Redis as the log); default none: this node knows its own streams only. The hub
     * closes it on {@link Hub#close()}.
     */
    public Builder presence(Presence presence) {
      this.presence = Optional.of(presence);
      return this;
    }

    /** How long a stream may be idle before a heartbeat comment; default 15 s, zero for none. */
    public Builder heartbeat(Duration heartbeat) {
      this.heartbeat = Checks.notNegative("heartbeat", heartbeat);
      return this;
    }

    /** The largest publish request body (413 above it); default 1 MiB. */
    public Builder maxEventBytes(int bytes) {
      this.maxEventBytes = Checks.positive("maxEventBytes", bytes);
      return this;
    }

    /** Unsent bytes a stream may hold before it is closed as a slow consumer; default 1 MiB. */
    public Builder maxBufferBytes(long bytes) {
      this.maxBufferBytes = Checks.positive("maxBufferBytes", bytes);
      return this;
    }

    /**
     * The most open connections (503 beyond, answered as soon as the connection opens); default
     * 10,000, 0 for no limit. Health probes and metrics are still answered on a few connections
     * beyond the limit.
     */
    public Builder maxConnections(int max) {
      this.maxConnections = Checks.notNegative("maxConnections", max);
      return this;
    }

    /** The most open connections per client address (503 beyond); default 0, no limit. */
    public Builder maxConnectionsPerIp(int max) {
      this.maxConnectionsPerIp = Checks.notNegative("maxConnectionsPerIp", max);
      return this;
    }

    /** The clock that stamps member-form events; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Returns a hub with this configuration, not yet started. */
    public Hub build() {
      return new Hub(this);
    }
  }
}
