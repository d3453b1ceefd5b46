package dev.herald.hub;

import dev.herald.hub.internal.auth.AuthHandler;
import dev.herald.hub.internal.console.ConsoleHandler;
import dev.herald.hub.internal.h2.Http2Connections;
import dev.herald.hub.internal.h2.PriorKnowledge;
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
import dev.herald.hub.internal.tls.ServerTls;
import dev.herald.hub.internal.tls.TlsPort;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.time.Duration;
import java.util.Optional;

/**
 * Assembles each connection's pipeline of small handlers, each with one job, in the order of The
 * refusals of docs/http-api.md: read timeouts (408), decoding (414, 431, 400), framing and the
 * head's rules (400, 501, 417), connection limits (503), CORS (preflight; its headers on every
 * response), route (404, 405), body size (413), media type and content coding (415), then the token
 * (401), then the endpoints, which check the request's content (400) before its rights (403, via
 * {@code Access}) and the publish rate (429); then the one error responder. Once a response or a
 * request closes the connection, nothing more is read from it as a request ({@code CloseGate}).
 *
 * <p>All of it serves requests. Once a {@code GET /events} response head is out, the connection
 * carries nothing but its event stream, so the subscribe path strips the pipeline to the connection
 * limiter (which counts the connection until it closes; an HTTP/1.0 stream also keeps its
 * unchunking, {@code Http10Streams}) and the stream's own handler, which writes HTTP chunks itself:
 * an idle stream then holds two handler contexts instead of twenty, and no decoder or encoder
 * state.
 *
 * <p><b>Protocols.</b> The same request handlers serve every protocol. On the plain port a
 * connection is HTTP/1.1 unless it opens with the HTTP/2 preface ({@link PriorKnowledge}: h2c);
 * with TLS ({@code --tls-cert}) the port speaks TLS only ({@link TlsPort}) and ALPN picks {@code
 * h2} or {@code http/1.1}. An HTTP/2 connection gets one child channel per stream ({@link
 * Http2Connections}), whose pipeline is the request handlers above behind an HTTP/2-to-HTTP codec;
 * the connection limiter stays on the connection (it counts connections, not streams) and each
 * stream is admitted by its connection's standing.
 */
final class Pipeline extends ChannelInitializer<SocketChannel> implements TlsPort.Protocols {
  /** The longest request line: longer is 414. */
  static final int MAX_INITIAL_LINE = 8 * 1024;

  /** The most header bytes: more is 431. */
  static final int MAX_HEADER_SIZE = 16 * 1024;

  private static final int MAX_CHUNK_SIZE = 8 * 1024;

  // Stateless (sharable): one for every HTTP/2 stream.
  private static final ChannelHandler STREAM_CODEC = new Http2StreamFrameToHttpObjectCodec(true);

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
  private final Http2Connections h2;
  private final TlsPort tls;

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
      Duration idleTimeout,
      Optional<ServerTls> tls,
      int maxStreamsPerConnection) {
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
    this.h2 =
        new Http2Connections(
            maxStreamsPerConnection,
            decoderFailures,
            MAX_HEADER_SIZE,
            headTimeout,
            idleTimeout,
            this::streamHandlers);
    this.tls = tls.map(context -> new TlsPort(context, headTimeout, this, errors)).orElse(null);
  }

  /** The HTTP/2 connections and their streams. */
  Http2Connections h2() {
    return h2;
  }

  @Override
  protected void initChannel(SocketChannel channel) {
    connections.add(channel);
    ChannelPipeline p = channel.pipeline();
    if (tls != null) {
      // The limiter counts the connection as it opens; a refusal waits for the handshake and the
      // protocol (http1 or h2 below).
      p.addLast("connectionLimit", connectionLimiter);
      p.addLast("tlsGate", tls.newGate());
      return;
    }
    // Cleartext HTTP/2 by prior knowledge; any other first byte is HTTP/1.1's.
    p.addLast("h2c", new PriorKnowledge(this::h2c));
    http1(p);
  }

  /** HTTP/1.1 after the TLS handshake (ALPN chose it, or the client offered nothing). */
  @Override
  public void http1(Channel channel) {
    ChannelPipeline p = channel.pipeline();
    // The limiter moves from the front, where it counted the connection, to its place.
    p.remove(connectionLimiter);
    http1(p);
    ConnectionLimiter.refusedAtOpen(channel)
        .ifPresent(refusal -> p.context(connectionLimiter).fireExceptionCaught(refusal));
  }

  /** HTTP/2 after the TLS handshake. */
  @Override
  public void h2(Channel channel) {
    h2.install(channel);
  }

  /** A plain-port connection that opened with the HTTP/2 preface: HTTP/1.1's handlers go. */
  private void h2c(Channel channel) {
    ChannelPipeline p = channel.pipeline();
    for (String name : p.names()) {
      ChannelHandler handler = p.get(name);
      if (handler != null && handler != connectionLimiter && !(handler instanceof PriorKnowledge)) {
        p.remove(name);
      }
    }
    h2.install(channel);
  }

  private void http1(ChannelPipeline p) {
    p.addLast("codec", new ServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, MAX_CHUNK_SIZE));
    requestHandlers(p, connectionLimiter);
  }

  /** An HTTP/2 stream: the same request handlers, behind the HTTP/2-to-HTTP codec. */
  private void streamHandlers(ChannelPipeline p) {
    p.addLast("codec", STREAM_CODEC);
    requestHandlers(p, h2.admission());
  }

  /** The request handlers after the codec; {@code limit} admits the request by connection. */
  private void requestHandlers(ChannelPipeline p, ChannelHandler limit) {
    // Before ResponseOrder: it sees each read as it comes, held or not.
    p.addLast("timeouts", new RequestTimeouts(headTimeout, bodyTimeout, idleTimeout));
    // Holds pipelined requests while a publish awaits its store, so responses stay in order.
    p.addLast("responseOrder", new ResponseOrder());
    // After ResponseOrder: what it held is dropped if the answer before it closed the connection.
    p.addLast("closeGate", new CloseGate());
    p.addLast("decoderFailures", decoderFailures);
    p.addLast("framing", framing);
    p.addLast("headRules", headRules);
    p.addLast("connectionLimit", limit);
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
