package dev.herald.hub.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** Writes complete (non-streaming) responses. */
public final class Responses {
  /** The content type of every JSON body the hub writes. */
  public static final String JSON = "application/json; charset=utf-8";

  /**
   * How long a connection closed after a response still reads, and drops, what the client sends,
   * unless the client closes first.
   */
  static final long LINGER_MILLIS = 2000;

  private static final ChannelHandler DRAIN = new Drain();

  private Responses() {}

  /** Builds a full response with the given body; the caller adds headers and writes it. */
  public static FullHttpResponse full(HttpResponseStatus status, String contentType, byte[] body) {
    ByteBuf content = Unpooled.wrappedBuffer(body);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    return response;
  }

  /**
   * Writes {@code response} on {@code channel}; closes the connection afterwards unless {@code
   * keepAlive}. Safe to call from any thread.
   */
  public static void write(Channel channel, FullHttpResponse response, boolean keepAlive) {
    if (keepAlive) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      channel.writeAndFlush(response);
    } else {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      channel.writeAndFlush(response).addListener((ChannelFutureListener) Responses::closeAfter);
    }
  }

  /**
   * Closes a connection whose response is written, in two steps (RFC 9112, section 9.6): first the
   * hub's side only, so the client reads the whole response and then the end of the connection; the
   * whole connection when the client closes too, or after {@value #LINGER_MILLIS} ms. Closing both
   * sides at once while the client is still sending (the rest of a refused body, a pipelined
   * request) makes the kernel reset the connection, and a reset can destroy the response before the
   * client has read it. What arrives meanwhile is dropped: before it is decoded, and what was
   * decoded already by {@link CloseGate}.
   */
  public static void closeAfter(ChannelFuture written) {
    Channel channel = written.channel();
    if (!written.isSuccess() || !channel.isActive() || !(channel instanceof DuplexChannel duplex)) {
      // Not a socket (an HTTP/2 stream): closing it ends the stream, not the connection.
      channel.close();
      return;
    }
    // From now on what arrives is only read and dropped: not decoded, so it costs nothing more.
    if (channel.pipeline().get(Drain.class) == null) {
      channel.pipeline().addFirst("drain", DRAIN);
    }
    ScheduledFuture<?> linger =
        channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
    channel.closeFuture().addListener(closed -> linger.cancel(false));
    SslHandler tls = channel.pipeline().get(SslHandler.class);
    if (tls != null) {
      // TLS: the client is told the response is complete (close_notify) before the socket's end.
      tls.closeOutbound().addListener(notified -> shutdownOutput(duplex));
    } else {
      shutdownOutput(duplex);
    }
  }

  private static void shutdownOutput(DuplexChannel duplex) {
    duplex
        .shutdownOutput()
        .addListener(
            shut -> {
              if (!shut.isSuccess()) {
                duplex.close();
              }
            });
  }

  /** Writes a JSON body with the given status. */
  public static void json(
      Channel channel, HttpResponseStatus status, String json, boolean keepAlive) {
    write(channel, full(status, JSON, json.getBytes(StandardCharsets.UTF_8)), keepAlive);
  }

  /** Whether the current request on {@code channel} asked to keep the connection open. */
  public static boolean keepAlive(Channel channel) {
    RequestInfo info = RequestInfo.of(channel);
    return info != null && info.keepAlive();
  }

  /** Drops whatever a closing connection still receives, before it is decoded. */
  @ChannelHandler.Sharable
  private static final class Drain extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      // Nothing was passed on.
    }
  }
}
