package dev.herald.hub;

import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.console.ConsoleHandler;
import dev.herald.hub.internal.health.HealthHandler;
import dev.herald.hub.internal.http.BodyLimitHandler;
import dev.herald.hub.internal.http.CloseGate;
import dev.herald.hub.internal.http.ConnectionLimiter;
import dev.herald.hub.internal.http.CorsHandler;
import dev.herald.hub.internal.http.DecoderFailureHandler;
import dev.herald.hub.internal.http.ErrorResponder;
import dev.herald.hub.internal.http.FramingHandler;
import dev.herald.hub.internal.http.HeadRulesHandler;
import dev.herald.hub.internal.http.Http10Streams;
import dev.herald.hub.internal.http.MediaTypeHandler;
import dev.herald.hub.internal.http.PostBodyAggregator;
import dev.herald.hub.internal.http.RequestTimeouts;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Router;
import dev.herald.hub.internal.http.ServerCodec;
import dev.herald.hub.internal.metrics.MetricsHandler;
import dev.herald.hub.internal.presence.PresenceHandler;
import dev.herald.hub.internal.publish.PublishHandler;
import dev.herald.hub.internal.stats.StatsHandler;
import dev.herald.hub.internal.subscribe.SubscribeHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import java.time.Duration;
import java.util.Optional;

/**
 * Assembles each connection's pipeline of small handlers, each with one job, in the order of
 * The refusals of docs/http-api.md: read timeouts (408), decoding (414, 431, 400), framing and the head's rules
 * (400, 501, 417), connection limits (503), CORS (preflight; its headers on every response), route
 * (404, 405), body size (413), media type and content coding (415), then the token (401), then the
 * endpoints, which check the request's content (400) before its rights (403, via {@code Access})
 * and the publish rate (429); then the one error responder. Once a response or a request closes the
 * connection, nothing more is read from it as a request ({@code CloseGate}).
 *
 * <p>All of it serves requests. Once a {@code GET /events} response head is out, the connection
 * carries nothing but its event stream, so the subscribe path strips the pipeline to the connection
 * limiter (which counts the connection until it closes; an HTTP/1.0 stream also keeps its
 * unchunking, {@code Http10Streams}) and the stream's own handler, which writes HTTP chunks itself:
 * an idle stream then holds two handler contexts instead of twenty, and no decoder or encoder
 * state.
 */
final class Pipeline extends ChannelInitializer<SocketChannel> {
  /** The longest request line: longer is 414. */
  static final int MAX_INITIAL_LINE = 8 * 1024;

  /** The most header bytes: more is 431. */
  static final int MAX_HEADER_SIZE = 16 * 1024;

  private static final int MAX_CHUNK_SIZE = 8 * 1024;

  private final ChannelGroup connections;
  private final int maxEventBytes;
  private final DecoderFailureHandler decoderFailures =
      new DecoderFailureHandler(MAX_INITIAL_LINE, MAX_HEADER_SIZE);
  private final ConnectionLimiter connectionLimiter;
  private final Router router;
  private final BodyLimitHandler bodyLimit;
  private final PublishHandler publish;
  private final SubscribeHandler subscribe;
  private final PresenceHandler presence;
  private final HealthHandler health;
  private final MetricsHandler metrics;
  private final StatsHandler stats;
  private final Optional<ConsoleHandler> console;
  private final CorsHandler cors;
  private final MediaTypeHandler mediaType = new MediaTypeHandler();
  private final AuthHandler auth;
  private final ErrorResponder errors;
  private final FramingHandler framing = new FramingHandler();
  private final HeadRulesHandler headRules = new HeadRulesHandler();
  private final Http10Streams http10 = new Http10Streams();
  private final Duration headTimeout;
  private final Duration bodyTimeout;
  private final Duration idleTimeout;

  Pipeline(
      ChannelGroup connections,
      int maxEventBytes,
      ConnectionLimiter connectionLimiter,
      CorsHandler cors,
      Router router,
      AuthHandler auth,
      PublishHandler publish,
      SubscribeHandler subscribe,
      PresenceHandler presence,
      HealthHandler health,
      MetricsHandler metrics,
      StatsHandler stats,
      Optional<ConsoleHandler> console,
      ErrorResponder errors,
      Duration headTimeout,
      Duration bodyTimeout,
      Duration idleTimeout) {
    this.connections = connections;
    this.maxEventBytes = maxEventBytes;
    this.connectionLimiter = connectionLimiter;
    this.cors = cors;
    this.router = router;
    this.auth = auth;
    this.bodyLimit = new BodyLimitHandler(maxEventBytes);
    this.publish = publish;
    this.subscribe = subscribe;
    this.presence = presence;
    this.health = health;
    this.metrics = metrics;
    this.stats = stats;
    this.console = console;
    this.errors = errors;
    this.headTimeout = headTimeout;
    this.bodyTimeout = bodyTimeout;
    this.idleTimeout = idleTimeout;
  }

  @Override
  protected void initChannel(SocketChannel channel) {
    connections.add(channel);
    ChannelPipeline p = channel.pipeline();
    p.addLast("codec", new ServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE));
    // Before ResponseOrder: it sees each read as it comes, held or not.
    p.addLast("timeouts", new RequestTimeouts(headTimeout, bodyTimeout, idleTimeout));
    // Holds pipelined requests while a publish awaits its store, so responses stay in order.
    p.addLast("responseOrder", new ResponseOrder());
    // After ResponseOrder: what it held is dropped if the answer before it closed the connection.
    p.addLast("closeGate", new CloseGate());
    p.addLast("decoderFailures", decoderFailures);
    p.addLast("framing", framing);
    p.addLast("headRules", headRules);
    p.addLast("connectionLimit", connectionLimiter);
    if (cors.enabled()) {
      // Only with an allowlist: it sits on the outbound path of every event frame.
      p.addLast("cors", cors);
    }
    p.addLast("router", router);
    p.addLast("http10", http10);
    p.addLast("bodyLimit", bodyLimit);
    p.addLast("aggregator", new PostBodyAggregator(maxEventBytes));
    p.addLast("mediaType", mediaType);
    p.addLast("auth", auth);
    p.addLast("publish", publish);
    p.addLast("subscribe", subscribe);
    p.addLast("presence", presence);
    p.addLast("health", health);
    p.addLast("metrics", metrics);
    p.addLast("stats", stats);
    // Only when the console is on: otherwise the router answers its paths 404.
    console.ifPresent(handler -> p.addLast("console", handler));
    p.addLast("errors", errors);
  }
}
