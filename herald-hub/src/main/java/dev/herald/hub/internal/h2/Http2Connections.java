package dev.herald.hub.internal.h2;

import dev.herald.hub.internal.http.DecoderFailureHandler;
import dev.herald.hub.internal.http.Redaction;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/2 connections (over TLS after ALPN, or cleartext by prior knowledge): Netty's frame codec
 * and one child channel per stream ({@link Http2MultiplexHandler}), whose pipeline is the hub's
 * HTTP/1.1 request handlers behind {@link Http2StreamFrameToHttpObjectCodec}, so every route,
 * refusal, header, auth and CORS rule is the same code for both protocols.
 *
 * <ul>
 *   <li><b>Limits.</b> The connection limiter counts the connection (not its streams);
 *       SETTINGS_MAX_CONCURRENT_STREAMS bounds the streams of each (a client over it gets
 *       RST_STREAM {@code REFUSED_STREAM}); the header list is bounded like HTTP/1.1's request line
 *       and headers together.
 *   <li><b>Flow control.</b> Each stream has its own window, and an event stream's unsent bytes
 *       (queued behind its window, or behind the socket) count towards {@code --max-buffer-bytes}
 *       like an HTTP/1.1 connection's: a stream whose client stops reading it is cut as a slow
 *       consumer (RST_STREAM) while the other streams of its connection go on.
 *   <li><b>Timeouts.</b> A connection must open its first stream within the head timeout, and is
 *       closed (GOAWAY) once it has had no stream for the idle timeout; an open event stream keeps
 *       it, as on HTTP/1.1.
 *   <li><b>Shutdown.</b> {@link #goAway} tells each client to open no new stream here; its open
 *       streams end cleanly (END_STREAM) as the broker closes them, and closing the connection
 *       waits up to {@value #GRACEFUL_CLOSE_MILLIS} ms for its last streams.
 * </ul>
 */
public final class Http2Connections {
  /** How long closing a connection waits for its open streams after GOAWAY. */
  static final long GRACEFUL_CLOSE_MILLIS = 1000;

  private static final Logger LOG = LoggerFactory.getLogger(Http2Connections.class);

  private final int maxStreamsPerConnection;
  private final long maxHeaderListSize;
  private final long headNanos;
  private final long idleNanos;
  private final Consumer<ChannelPipeline> requestHandlers;
  private final StreamAdmission admission;
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger streams = new AtomicInteger();

  /**
   * HTTP/2 with at most {@code maxStreamsPerConnection} concurrent streams per connection; {@code
   * requestHandlers} adds the request handlers to each stream's pipeline, after the HTTP/2-to-HTTP
   * codec and the admission check (which replaces the connection limiter: see {@link
   * #admission()}).
   */
  public Http2Connections(
      int maxStreamsPerConnection,
      DecoderFailureHandler requestLimits,
      int maxHeaderBytes,
      Duration headTimeout,
      Duration idleTimeout,
      Consumer<ChannelPipeline> requestHandlers) {
    this.maxStreamsPerConnection = maxStreamsPerConnection;
    // HTTP/2 counts 32 bytes per field on top of its name and value (RFC 9113, section 6.5.2).
    this.maxHeaderListSize = maxHeaderBytes + requestLimits.maxInitialLineLength() + 32L * 100;
    this.headNanos = headTimeout.toNanos();
    this.idleNanos = idleTimeout.toNanos();
    this.requestHandlers = requestHandlers;
    this.admission = new StreamAdmission(requestLimits);
  }

  /** The handler that admits each stream, where an HTTP/1.1 pipeline has the connection limiter. */
  public ChannelHandler admission() {
    return admission;
  }

  /** HTTP/2 connections open now. */
  public int openConnections() {
    return connections.get();
  }

  /** HTTP/2 streams open now, on all connections. */
  public int openStreams() {
    return streams.get();
  }

  /** Adds HTTP/2 to the end of {@code channel}'s pipeline; on its event loop. */
  public void install(Channel channel) {
    Http2Settings settings =
        Http2Settings.defaultSettings()
            .maxConcurrentStreams(maxStreamsPerConnection)
            .maxHeaderListSize(maxHeaderListSize);
    Http2FrameCodec codec =
        Http2FrameCodecBuilder.forServer()
            .initialSettings(settings)
            .gracefulShutdownTimeoutMillis(GRACEFUL_CLOSE_MILLIS)
            .build();
    Connection connection = new Connection();
    ChannelPipeline p = channel.pipeline();
    // A broadcast drains many streams of a connection in one turn of its event loop, each ending
    // in a flush: one flush (one TLS record run, one writev) for them all instead of one each.
    p.addLast(
        "h2flush",
        new FlushConsolidationHandler(
            FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
    p.addLast("h2", codec);
    p.addLast("h2streams", new Http2MultiplexHandler(new StreamInitializer(connection)));
    p.addLast("h2connection", connection);
  }

  /**
   * Sends GOAWAY (NO_ERROR) on {@code channel} if it speaks HTTP/2: its client opens no new stream
   * here, and those open go on until they end. Safe from any thread.
   */
  public static void goAway(Channel channel) {
    channel
        .eventLoop()
        .execute(
            () -> {
              if (channel.isActive() && channel.pipeline().get(Http2FrameCodec.class) != null) {
                channel.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
              }
            });
  }

  /** Builds each stream's pipeline: HTTP/2 framing, then the HTTP request handlers. */
  private final class StreamInitializer extends ChannelInitializer<Http2StreamChannel> {
    private final Connection connection;

    StreamInitializer(Connection connection) {
      this.connection = connection;
    }

    @Override
    protected void initChannel(Http2StreamChannel stream) {
      connection.streamOpened();
      stream.closeFuture().addListener(closed -> connection.streamClosed());
      ChannelPipeline p = stream.pipeline();
      p.addLast("h2framing", new StreamFraming());
      requestHandlers.accept(p);
    }
  }

  /**
   * The connection's own handler, after the streams: counts the connection and its streams, closes
   * it when it has none for too long, and drops the connection-level frames the codec has handled.
   */
  private final class Connection extends ChannelDuplexHandler {
    private ChannelHandlerContext ctx;
    private int open;
    private ScheduledFuture<?> timer;
    private boolean counted;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      counted = true;
      connections.incrementAndGet();
      // Until its first stream the connection has the head timeout, as a new HTTP/1.1 one.
      schedule(headNanos);
    }

    void streamOpened() {
      streams.incrementAndGet();
      open++;
      cancel();
    }

    void streamClosed() {
      streams.decrementAndGet();
      open--;
      if (open == 0 && ctx.channel().isActive()) {
        schedule(idleNanos);
      }
    }

    private void schedule(long nanos) {
      cancel();
      if (nanos > 0) {
        timer = ctx.executor().schedule(this::idle, nanos, TimeUnit.NANOSECONDS);
      }
    }

    private void cancel() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    private void idle() {
      timer = null;
      if (open == 0) {
        LOG.debug("closing idle HTTP/2 connection {}", ctx.channel().remoteAddress());
        ctx.channel().close();
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      // SETTINGS, PING, GOAWAY from the client: the codec has acted on them already.
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      cancel();
      if (counted) {
        counted = false;
        connections.decrementAndGet();
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // Protocol errors were answered by the codec (GOAWAY or RST_STREAM); I/O errors are the
      // peer's going away. Neither is the hub's fault.
      LOG.debug(
          "HTTP/2 connection {} failed: {}",
          ctx.channel().remoteAddress(),
          Redaction.redact(cause.toString()));
      if (!(cause instanceof io.netty.handler.codec.http2.Http2Exception.StreamException)) {
        ctx.close();
      }
    }
  }
}
