package dev.herald.hub;

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
import dev.herald.hub.internal.http.Shedding;
import dev.herald.hub.internal.metrics.HubMetrics;
import dev.herald.hub.internal.metrics.MetricsHandler;
import dev.herald.hub.internal.presence.PresenceHandler;
import dev.herald.hub.internal.publish.PublishHandler;
import dev.herald.hub.internal.stats.StatsHandler;
import dev.herald.hub.internal.subscribe.SubscribeHandler;
import dev.herald.hub.internal.tls.ServerTls;
import dev.herald.server.Broker;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.spi.EventLog;
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
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A started {@link Hub}: its event loops, listening socket, connections, broker and handlers, and
 * how they stop. {@link #stop} drains: {@code /readyz} turns 503 and the port stops accepting, new
 * stream requests are shed, each open stream is asked to come back ({@code retry:}, then its end)
 * at its own moment of the drain window so the clients do not all reconnect at once; then new
 * publishes are refused, those in flight are answered, the store is flushed and closed.
 */
final class Running {
  /**
   * The slowest pace at which streams are ended during a drain: a few streams are not held for the
   * whole window, which exists to spread thousands.
   */
  static final int DRAIN_MIN_STREAMS_PER_SECOND = 200;

  /** The longest the stop after the drain window may take (publishes in flight, the store). */
  static final long STOP_MILLIS = 8000;

  private static final Logger LOG = LoggerFactory.getLogger(Running.class);

  private final Settings config;
  private volatile boolean draining;
  private volatile boolean shuttingDown;
  private final Broker broker;
  private final HubMetrics metrics;
  private final SubscribeHandler subscribe;
  private final PublishHandler publish;
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private final Channel server;
  private final ChannelGroup connections;
  private final ChannelGroup streams;
  private ThreadPoolExecutor jwksVerifications;
  private final ErrorResponder errors;
  private final InetSocketAddress address;

  /**
   * Opens the store, binds the address and serves.
   *
   * @throws HubStartException if the store or presence cannot be opened or the address bound
   */
  Running(Settings config, Optional<TokenVerifier> verifier, Optional<ServerTls> serverTls) {
    this.config = config;
    EventLog log = openLog();
    ConnectionLimiter limiter =
        new ConnectionLimiter(
            config.maxConnections,
            config.maxConnectionsPerIp,
            RateLimiter.perSecond(config.maxNewConnectionsPerSecond));
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
            ? new EpollEventLoopGroup(config.ioThreads, ioThread)
            : new NioEventLoopGroup(config.ioThreads, ioThread);
    connections = new DefaultChannelGroup("herald-connections", GlobalEventExecutor.INSTANCE);
    streams = new DefaultChannelGroup("herald-streams", GlobalEventExecutor.INSTANCE);
    subscribe =
        new SubscribeHandler(
            broker,
            streams,
            PooledByteBufAllocator.DEFAULT,
            config.maxBufferBytes,
            config.clock,
            config.clockSkew,
            Hub.maxStreams(config.maxConnections));
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
    publish =
        new PublishHandler(
            broker,
            metrics,
            config.clock,
            RateLimiter.perSecond(config.publishRate),
            config.maxBatchEvents,
            config.idempotencyWindow);
    Pipeline pipeline =
        new Pipeline(
            connections,
            config.maxEventBytes,
            limiter,
            new CorsHandler(config.corsOrigins),
            new Router(() -> draining, () -> shuttingDown, config.console),
            new AuthHandler(
                verifier.map(v -> new Authenticator(v, config.queryTokens, config.clock)),
                jwksVerifications),
            publish,
            subscribe,
            new PresenceHandler(broker),
            new HealthHandler(() -> broker.log().isAvailable(), () -> draining),
            new MetricsHandler(metrics),
            new StatsHandler(
                metrics,
                () -> broker.log().isAvailable(),
                () -> draining,
                broker.log().getClass().getSimpleName(),
                System::nanoTime),
            config.console ? Optional.of(new ConsoleHandler()) : Optional.empty(),
            errors,
            config.requestHeadTimeout,
            config.requestBodyTimeout,
            config.idleTimeout,
            serverTls,
            config.maxStreamsPerConnection);
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
              // As deep as the kernel allows (net.core.somaxconn): a reconnect storm's SYNs wait
              // in it instead of being dropped and retried a second later.
              .option(ChannelOption.SO_BACKLOG, NetUtil.SOMAXCONN)
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childHandler(pipeline)
              .bind(config.bind, config.port)
              .syncUninterruptibly()
              .channel();
    } catch (Exception e) {
      // syncUninterruptibly rethrows the bind's IOException unchecked: catch everything here.
      shutDownQuietly();
      throw new HubStartException(
          "cannot listen on " + config.bind + ":" + config.port + ": " + e.getMessage(), e);
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
  }

  InetSocketAddress address() {
    return address;
  }

  private EventLog openLog() {
    try {
      return config.logs.get();
    } catch (StoreUnavailableException e) {
      throw new HubStartException("cannot open the event log: " + e.getMessage(), e);
    }
  }

  /** The broker on {@code log}, with the cluster-wide presence if one was given. */
  private Broker openBroker(EventLog log) {
    Broker.Builder builder =
        Broker.builder().log(log).heartbeat(config.heartbeat).listener(metrics);
    config.presence.ifPresent(builder::presence);
    try {
      return builder.build();
    } catch (StoreUnavailableException e) {
      log.close();
      metrics.close();
      throw new HubStartException("cannot open the presence: " + e.getMessage(), e);
    }
  }

  /**
   * Drains over {@code window}, then stops: see the class comment. Streams are asked back in a
   * random order at an even pace over the window, or faster, at {@value
   * #DRAIN_MIN_STREAMS_PER_SECOND} a second, when they are few; then at most {@value #STOP_MILLIS}
   * ms for the rest.
   */
  void stop(Duration window) {
    draining = true;
    server.close().awaitUninterruptibly(1000);
    // HTTP/2 clients hear GOAWAY: no new stream here; the open ones end below, each cleanly.
    connections.forEach(Http2Connections::goAway);
    List<Channel> open = new ArrayList<>(streams);
    Collections.shuffle(open);
    long spreadNanos =
        Math.min(
            window.toNanos(), TimeUnit.SECONDS.toNanos(open.size()) / DRAIN_MIN_STREAMS_PER_SECOND);
    LOG.info(
        "draining: /readyz answers 503, {} streams asked back over {} ms",
        open.size(),
        TimeUnit.NANOSECONDS.toMillis(spreadNanos));
    long start = System.nanoTime();
    for (int i = 0; i < open.size(); i++) {
      long due = start + spreadNanos * i / open.size();
      long wait = due - System.nanoTime();
      if (wait > 0) {
        // Streams are asked back in steps of a millisecond or more: sleeping per stream would be
        // thousands of wake-ups a second for nothing.
        sleepNanos(Math.max(wait, TimeUnit.MILLISECONDS.toNanos(1)));
      }
      SubscribeHandler.comeBack(open.get(i), "draining", Shedding.jitteredMillis(1));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_MILLIS);
    // Streams that opened while the drain began (their subscribe was under way) go now.
    streams.forEach(s -> SubscribeHandler.comeBack(s, "draining", Shedding.jitteredMillis(1)));
    shuttingDown = true;
    try {
      if (!publish.awaitNoneInFlight(remainingMillis(deadline, 5000))) {
        LOG.warn("stopping with publishes still awaiting the store");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Each stream left hears SHUTDOWN and writes its terminating chunk; then the store is flushed.
    broker.close();
    // Clients that read get their end of stream; the rest are cut off when the time is up.
    streams.newCloseFuture().awaitUninterruptibly(remainingMillis(deadline, 2000));
    connections.close().awaitUninterruptibly(remainingMillis(deadline, 1000));
    shutDownQuietly();
  }

  private static void sleepNanos(long nanos) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The streams open now. */
  int openStreams() {
    return streams.size();
  }

  private void shutDownQuietly() {
    broker.close();
    subscribe.close();
    jwksVerifications.shutdownNow();
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    errors.flushLog();
    metrics.close();
  }

  private static long remainingMillis(long deadline, long most) {
    return Math.max(1, Math.min(most, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
  }
}
