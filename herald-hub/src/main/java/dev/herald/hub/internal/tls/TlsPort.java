package dev.herald.hub.internal.tls;

import dev.herald.hub.internal.http.ErrorResponder;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.StaysOnStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first handlers of a connection to the TLS port: what the client sends first decides what
 * follows.
 *
 * <ul>
 *   <li>A TLS record: the handshake, with the certificate current when the connection opened
 *       ({@link ServerTls#context()}); ALPN picks {@code h2} or {@code http/1.1} (the default for a
 *       client that offers neither), and {@link Protocols} builds that protocol's pipeline.
 *   <li>A plain HTTP request: answered 400 {@code tls_required} in plain text ("use https://") and
 *       closed, as a client that forgot the scheme deserves a reason rather than a reset.
 *   <li>Anything else, a failed handshake, or nothing within the head timeout: closed, refused
 *       {@code tls_handshake_failed}.
 * </ul>
 *
 * Each refusal is logged and counted as every other ({@link ErrorResponder#record}): the first of a
 * reason per interval in full, the rest as one line with their count, so a scanner hammering the
 * port costs a few lines.
 */
public final class TlsPort {
  private static final Logger LOG = LoggerFactory.getLogger(TlsPort.class);
  private static final int RECORD_HEADER = 5;
  // The longest method the plain-HTTP check waits for (OPTIONS), and its space.
  private static final int LONGEST_METHOD = 8;

  /** Builds the pipeline of the protocol ALPN chose, after the TLS handler. */
  public interface Protocols {
    /** HTTP/1.1 over TLS: the request handlers follow the TLS handler. */
    void http1(Channel channel);

    /** HTTP/2 over TLS: the connection's HTTP/2 handlers follow the TLS handler. */
    void h2(Channel channel);
  }

  private final ServerTls tls;
  private final Duration handshakeTimeout;
  private final Protocols protocols;
  private final ErrorResponder errors;

  /**
   * The TLS port with {@code tls}'s certificate; a client must complete its handshake within {@code
   * handshakeTimeout} (zero: no limit); refusals are recorded by {@code errors}.
   */
  public TlsPort(
      ServerTls tls, Duration handshakeTimeout, Protocols protocols, ErrorResponder errors) {
    this.tls = tls;
    this.handshakeTimeout = handshakeTimeout;
    this.protocols = protocols;
    this.errors = errors;
  }

  /** The handler that reads a new connection's first bytes; one per connection. */
  public ByteToMessageDecoder newGate() {
    return new Gate();
  }

  private void refuse(Channel channel, String code, String message) {
    errors.record(channel, Refusal.badRequest(code, message));
  }

  /** Reads the first bytes, then replaces itself with the TLS handler, or refuses. */
  private final class Gate extends ByteToMessageDecoder {
    private ScheduledFuture<?> timer;

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      if (!handshakeTimeout.isZero()) {
        timer =
            ctx.executor()
                .schedule(
                    () -> {
                      if (!ctx.isRemoved() && ctx.channel().isActive()) {
                        refuse(
                            ctx.channel(),
                            "tls_handshake_failed",
                            "no TLS handshake within the head timeout (--request-head-timeout)");
                        ctx.close();
                      }
                    },
                    handshakeTimeout.toNanos(),
                    TimeUnit.NANOSECONDS);
      }
      super.channelActive(ctx);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
      if (timer != null) {
        timer.cancel(false);
      }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (in.readableBytes() < RECORD_HEADER) {
        return;
      }
      if (SslHandler.isEncrypted(in, false)) {
        SSLEngine engine = tls.context().newEngine(ctx.alloc());
        SslHandler ssl = new StreamTls(engine);
        ssl.setHandshakeTimeoutMillis(handshakeTimeout.toMillis());
        // The bytes read so far go on to the TLS handler, which takes this one's place.
        ctx.pipeline().addAfter(ctx.name(), "alpn", new Alpn());
        ctx.pipeline().replace(this, "tls", ssl);
        return;
      }
      int method = methodLength(in);
      if (method == 0 && in.readableBytes() < LONGEST_METHOD) {
        return; // letters so far: wait for the space that makes it a request line
      }
      Channel channel = ctx.channel();
      in.skipBytes(in.readableBytes());
      ctx.pipeline().remove(this);
      if (method > 0) {
        refuse(
            channel,
            "tls_required",
            "this port speaks HTTPS only; use https:// (the hub was started with --tls-cert)");
        byte[] body =
            ErrorResponder.body(
                "tls_required",
                "this port speaks HTTPS only; use https:// (the hub was started with --tls-cert)");
        String head =
            "HTTP/1.1 "
                + HttpResponseStatus.BAD_REQUEST
                + "\r\nContent-Type: "
                + Responses.JSON
                + "\r\nContent-Length: "
                + body.length
                + "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
        ByteBuf response = ctx.alloc().buffer(head.length() + body.length);
        response.writeCharSequence(head, StandardCharsets.US_ASCII);
        response.writeBytes(body);
        channel.writeAndFlush(response).addListener((ChannelFutureListener) Responses::closeAfter);
      } else {
        refuse(channel, "tls_handshake_failed", "the client sent neither TLS nor HTTP");
        channel.close();
      }
    }

    /**
     * The length of the request method {@code in} starts with, including its space, if it is one
     * (upper-case letters and a space); -1 if it is not; 0 if it may be but the space has not come.
     */
    private static int methodLength(ByteBuf in) {
      int n = Math.min(in.readableBytes(), LONGEST_METHOD);
      for (int i = 0; i < n; i++) {
        byte b = in.getByte(in.readerIndex() + i);
        if (b == ' ') {
          return i == 0 ? -1 : i + 1;
        }
        if (b < 'A' || b > 'Z') {
          return -1;
        }
      }
      return n < LONGEST_METHOD ? 0 : -1;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      handshakeError(ctx, cause);
    }
  }

  /** Once the handshake is done, hands the connection to the protocol ALPN chose. */
  private final class Alpn extends ApplicationProtocolNegotiationHandler {
    Alpn() {
      super(ApplicationProtocolNames.HTTP_1_1);
    }

    @Override
    protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
      if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
        protocols.h2(ctx.channel());
      } else {
        protocols.http1(ctx.channel());
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      handshakeError(ctx, cause);
    }
  }

  /**
   * Before the protocol's handlers exist: the connection limiter's refusal as it opened waits for
   * them ({@link Protocols} answers it); anything else ends the connection.
   */
  private void handshakeError(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof Refusal) {
      return;
    }
    Throwable reason =
        cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    if (reason instanceof IOException && !(reason instanceof javax.net.ssl.SSLException)) {
      LOG.debug("connection {} failed: {}", ctx.channel().remoteAddress(), reason.toString());
    } else {
      refuse(ctx.channel(), "tls_handshake_failed", "TLS handshake failed: " + reason.getMessage());
    }
    ctx.close();
  }

  /** The TLS handler stays when a connection becomes an event stream: it carries the stream. */
  private static final class StreamTls extends SslHandler implements StaysOnStream {
    StreamTls(SSLEngine engine) {
      super(engine);
    }
  }
}
