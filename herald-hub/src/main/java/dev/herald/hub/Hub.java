package dev.herald.hub;

import dev.herald.core.internal.Checks;
import dev.herald.hub.internal.auth.TokenVerifier;
import dev.herald.hub.internal.http.CorsHandler;
import dev.herald.hub.internal.tls.ServerTls;
import dev.herald.server.Broker;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * <p>Native epoll is used on Linux when available, NIO elsewhere. {@link #close()} drains ({@link
 * #drain}): it stops accepting, asks every stream to come back later (a {@code retry:} and the end
 * of the stream; clients reconnect, elsewhere behind a load balancer) spread over the drain window,
 * answers the publishes in flight, flushes and closes the store.
 *
 * <p>Load is shed the way an EventSource understands: a stream request the hub must turn away
 * (connection limits, draining) is answered 200 with a {@code retry:} and an immediate end, not
 * 503, which a browser's EventSource would never retry (docs/http-api.md, "Shedding").
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

  /**
   * File descriptors kept for everything but client connections (the JVM's jars, the store's files
   * and sockets, logs, epoll) when the default connection limit is derived from the process's
   * file-descriptor limit.
   */
  public static final int FD_HEADROOM = 256;

  /** The connection limit when the file-descriptor limit cannot be read. */
  public static final int FALLBACK_MAX_CONNECTIONS = 10_000;

  /** The default most events in one batch publish. */
  public static final int DEFAULT_MAX_BATCH_EVENTS = 1000;

  /** The default time an {@code Idempotency-Key} answers its first publish. */
  public static final Duration DEFAULT_IDEMPOTENCY_WINDOW = Duration.ofHours(24);

  /** The default leeway for {@code exp} and {@code nbf}. */
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(30);

  /**
   * The default limit of new connections per second: none. The connection limit bounds what the hub
   * holds, and a client over it is shed ({@code retry:}) rather than refused, so a rate limit would
   * only turn away a reconnecting population the hub can hold.
   */
  public static final int DEFAULT_NEW_CONNECTIONS_PER_SECOND = 0;

  /**
   * The default limit of events per second per publisher: none. A rate limit protects against
   * untrusted publishers; the usual publisher is the application's backend, one token subject
   * publishing for all its users, which a per-subject limit would throttle.
   */
  public static final double DEFAULT_PUBLISH_RATE = 0;

  /** The default drain window of {@link #close()}: the time clients' reconnections spread over. */
  public static final Duration DEFAULT_DRAIN = Duration.ofSeconds(10);

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

  /**
   * The default most open connections: what the process may hold, its file-descriptor limit ({@code
   * ulimit -n}) less {@value #FD_HEADROOM} for its own files; {@value #FALLBACK_MAX_CONNECTIONS}
   * when the limit cannot be read.
   */
  public static int defaultMaxConnections() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      long limit = unix.getMaxFileDescriptorCount();
      if (limit > FD_HEADROOM) {
        return (int) Math.min(Integer.MAX_VALUE, limit - FD_HEADROOM);
      }
    }
    return FALLBACK_MAX_CONNECTIONS;
  }

  /**
   * The most event streams with {@code maxConnections} (0: no limit): the connections less a share
   * kept for publishers, probes and other requests, 2% of them and at most 1,024, so that streams
   * filling the hub never lock its publishers out.
   */
  static int maxStreams(int maxConnections) {
    return maxConnections - Math.min(1024, maxConnections / 50);
  }

  private static final Logger LOG = LoggerFactory.getLogger(Hub.class);

  private final Settings settings;
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile InetSocketAddress address;
  private Running running;

  private Hub(Settings settings) {
    this.settings = settings;
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
    Optional<TokenVerifier> verifier =
        Optional.ofNullable(settings.key).map(k -> k.apply(settings.clockSkew));
    if (verifier.isEmpty() && !settings.allowAnonymous && !isLoopback(settings.bind)) {
      throw new HubStartException(
          "refusing to listen on "
              + settings.bind
              + " without authentication: anyone who can reach it could publish and subscribe."
              + " Configure a key (--jwt-secret, --jwt-public-key or --jwks-url), bind 127.0.0.1,"
              + " or pass --allow-anonymous to run without authentication on purpose",
          null);
    }
    Optional<ServerTls> serverTls;
    try {
      serverTls = settings.tls.map(files -> ServerTls.load(files[0], files[1]));
    } catch (IllegalArgumentException e) {
      throw new HubStartException("cannot serve TLS: " + e.getMessage(), e);
    }
    running = new Running(settings, verifier, serverTls);
    address = running.address();
    serverTls.ifPresent(t -> LOG.info("TLS certificate: {}", t.description()));
    if (verifier.isPresent()) {
      LOG.info(
          "auth: JWT with {}, clock skew {}, query tokens {}",
          verifier.get().description(),
          settings.clockSkew,
          settings.queryTokens ? "on" : "off");
    } else {
      LOG.warn(
          "auth: DEV MODE, no key configured: every request is anonymous and may publish and"
              + " subscribe anywhere{}",
          settings.allowAnonymous ? " (--allow-anonymous)" : "");
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
    return settings.key != null;
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
   * Drains and stops, as {@link #drain} with the configured window ({@link Builder#drain}, default
   * 10 s). Idempotent; a second caller waits for the first's stop to finish.
   */
  @Override
  public void close() {
    drain(settings.drain);
  }

  /**
   * Stops gracefully, spreading the clients' reconnections over {@code window}: {@code /readyz}
   * turns 503 and the port stops accepting connections (HTTP/2 connections hear GOAWAY); stream
   * requests on connections already open are shed (200 with a {@code retry:}, which an EventSource
   * follows); each open stream is asked to come back (a jittered {@code retry:}, then the clean end
   * of its response) at its own moment of the window, in random order, so its client reconnects —
   * to another node behind a load balancer — with its {@code Last-Event-ID} and loses nothing; a
   * few streams end sooner (200 a second at least). Publishes are served until the window ends;
   * then new ones are refused 503, those in flight are answered, the store is flushed and closed,
   * and the remaining connections closed, within 8,000 ms more. Returns once stopped; idempotent,
   * and a second caller waits for the first's stop.
   */
  public void drain(Duration window) {
    Checks.notNegative("window", window);
    if (address == null) {
      // Never started, or a failed start already released everything.
      return;
    }
    if (!closing.compareAndSet(false, true)) {
      try {
        stopped.await(
            settings.drain.plus(window).toMillis() + Running.STOP_MILLIS + 5000,
            TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    try {
      LOG.info("shutting down: {} streams open, drain {}", running.openStreams(), window);
      running.stop(window);
      LOG.info("stopped");
    } finally {
      stopped.countDown();
    }
  }

  /**
   * Configures a {@link Hub}; the defaults are those of {@code herald serve}. Every setter checks
   * its value at once.
   */
  public static final class Builder {
    private final Settings s = new Settings();

    private Builder() {}

    /**
     * Whether {@code GET /} serves the web console (a static page that subscribes, publishes and
     * shows presence and {@code /stats} through the API, with the user's token); default true. Off,
     * {@code /} and {@code /console/...} are 404 like any unknown path.
     */
    public Builder console(boolean serve) {
      s.console = serve;
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
      s.tls = Optional.of(new Path[] {certificateChain, privateKey});
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
      s.maxStreamsPerConnection = Checks.positive("maxStreamsPerConnection", max);
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
      s.key = skew -> TokenVerifier.secret(secret, skew);
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
      s.key = skew -> TokenVerifier.publicKey(pem, skew);
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
      s.key = skew -> TokenVerifier.jwks(url, skew);
      return this;
    }

    /** The leeway for {@code exp} and {@code nbf}; default 30 s. */
    public Builder jwtClockSkew(Duration skew) {
      s.clockSkew = Checks.notNegative("jwtClockSkew", skew);
      return this;
    }

    /** Whether {@code ?access_token=} is accepted (browsers' EventSource); default true. */
    public Builder queryTokens(boolean accept) {
      s.queryTokens = accept;
      return this;
    }

    /** Whether dev mode (no key) may bind a non-loopback address; default false. */
    public Builder allowAnonymous(boolean allow) {
      s.allowAnonymous = allow;
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
        checked.add(CorsHandler.checkOrigin(origin));
      }
      s.corsOrigins.clear();
      s.corsOrigins.addAll(checked);
      return this;
    }

    /**
     * New connections accepted per second, across all clients (a token bucket holding one second's
     * worth; beyond it 503 {@code too_many_connections} with {@code Retry-After}, or shed for a
     * stream request); open streams are never evicted. Default 0, no limit.
     */
    public Builder maxNewConnectionsPerSecond(int perSecond) {
      s.maxNewConnectionsPerSecond = Checks.notNegative("maxNewConnectionsPerSecond", perSecond);
      return this;
    }

    /**
     * Events each publisher may publish per second: per token subject, per client address when
     * anonymous (beyond it 429 {@code rate_limited} with {@code Retry-After}; bursts of one
     * second's worth). Default 0, no limit: set one when publishers are not trusted.
     */
    public Builder publishRate(double perSecond) {
      if (!(perSecond >= 0) || Double.isInfinite(perSecond)) {
        throw new IllegalArgumentException("publishRate must be a finite rate >= 0: " + perSecond);
      }
      s.publishRate = perSecond;
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
      s.ioThreads = Checks.positive("ioThreads", threads);
      return this;
    }

    /**
     * The most events one batch publish (a JSON array or NDJSON body) may hold, beyond it 413
     * {@code batch_too_large}; the body limit ({@link #maxEventBytes}) still applies. Default 1000.
     */
    public Builder maxBatchEvents(int max) {
      s.maxBatchEvents = Checks.positive("maxBatchEvents", max);
      return this;
    }

    /**
     * How long the store remembers a publish's {@code Idempotency-Key} (a retry within it answers
     * the first ids and publishes nothing); default 24 h.
     */
    public Builder idempotencyWindow(Duration window) {
      s.idempotencyWindow = Checks.positive("idempotencyWindow", window);
      return this;
    }

    /**
     * How long a request head may take from its first byte, and a new connection until its first
     * request head is complete: a partial head is then answered 408 {@code request_timeout}, a
     * connection that sent nothing is closed. Default 10 s, zero for no limit.
     */
    public Builder requestHeadTimeout(Duration timeout) {
      s.requestHeadTimeout = Checks.notNegative("requestHeadTimeout", timeout);
      return this;
    }

    /**
     * How long a request body may take from the end of its head (beyond it 408 {@code
     * request_timeout}). Default 30 s, zero for no limit.
     */
    public Builder requestBodyTimeout(Duration timeout) {
      s.requestBodyTimeout = Checks.notNegative("requestBodyTimeout", timeout);
      return this;
    }

    /**
     * How long a keep-alive connection may wait for its next request before it is closed; event
     * streams are never idle-timed-out (heartbeats keep them). Default 60 s, zero for no limit.
     */
    public Builder idleTimeout(Duration timeout) {
      s.idleTimeout = Checks.notNegative("idleTimeout", timeout);
      return this;
    }

    /** The TCP port, 0 for any free one; default 8080. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0-65535: " + port);
      }
      s.port = port;
      return this;
    }

    /** The address to bind; default {@code 127.0.0.1}. */
    public Builder bind(String host) {
      s.bind = Objects.requireNonNull(host, "host");
      return this;
    }

    /**
     * The event log: {@link MemoryEventLog} by default, or a durable one ({@code SqliteEventLog},
     * {@code RedisEventLog}; the CLI's {@code --store} builds them with {@code herald-stores}). The
     * hub owns it: it closes it on {@link Hub#close()}. Retention is the log's own setting.
     */
    public Builder log(EventLog log) {
      Objects.requireNonNull(log, "log");
      s.logs = () -> log;
      return this;
    }

    /**
     * The directory of device streams shared by the nodes of one deployment ({@code RedisPresence}
     * on the same Redis as the log); default none: this node knows its own streams only. The hub
     * closes it on {@link Hub#close()}.
     */
    public Builder presence(Presence presence) {
      s.presence = Optional.of(presence);
      return this;
    }

    /** How long a stream may be idle before a heartbeat comment; default 15 s, zero for none. */
    public Builder heartbeat(Duration heartbeat) {
      s.heartbeat = Checks.notNegative("heartbeat", heartbeat);
      return this;
    }

    /** The largest publish request body (413 above it); default 1 MiB. */
    public Builder maxEventBytes(int bytes) {
      s.maxEventBytes = Checks.positive("maxEventBytes", bytes);
      return this;
    }

    /** Unsent bytes a stream may hold before it is closed as a slow consumer; default 1 MiB. */
    public Builder maxBufferBytes(long bytes) {
      s.maxBufferBytes = Checks.positive("maxBufferBytes", bytes);
      return this;
    }

    /**
     * The most open connections (503 beyond, or shed for a stream request: see docs/http-api.md);
     * default {@link Hub#defaultMaxConnections()}, what the process's file-descriptor limit allows,
     * 0 for no limit. Event streams may take all but a share of them (2%, at most 1,024), kept for
     * publishers. Health probes and metrics are still answered on a few connections beyond the
     * limit.
     */
    public Builder maxConnections(int max) {
      s.maxConnections = Checks.notNegative("maxConnections", max);
      return this;
    }

    /** The most open connections per client address (503 beyond); default 0, no limit. */
    public Builder maxConnectionsPerIp(int max) {
      s.maxConnectionsPerIp = Checks.notNegative("maxConnectionsPerIp", max);
      return this;
    }

    /**
     * The drain window of {@link Hub#close()} ({@code herald serve} on SIGTERM): the open streams
     * are asked to come back spread over it, so their clients do not reconnect all at once. Default
     * 10 s; zero ends them all at once.
     */
    public Builder drain(Duration window) {
      s.drain = Checks.notNegative("drain", window);
      return this;
    }

    /** The clock that stamps member-form events; default the system UTC clock. */
    public Builder clock(Clock clock) {
      s.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Returns a hub with this configuration, not yet started. */
    public Hub build() {
      return new Hub(s.copy());
    }
  }
}
