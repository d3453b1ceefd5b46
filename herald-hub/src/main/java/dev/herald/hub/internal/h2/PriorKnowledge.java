package dev.herald.hub.internal.h2;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.util.ReferenceCountUtil;
import java.util.function.Consumer;

/**
 * Cleartext HTTP/2 by prior knowledge (RFC 9113, section 3.3) on the plain port: a client that
 * opens with the HTTP/2 connection preface ({@code PRI * HTTP/2.0...}) gets HTTP/2; any other first
 * byte leaves the connection to HTTP/1.1, untouched. The first byte that differs from the preface
 * decides (no request method starts with {@code PRI}), so an HTTP/1.1 request is never delayed; the
 * handler then removes itself and costs nothing more.
 *
 * <p>Not a {@code ByteToMessageDecoder}: removing one in the middle of a read fires an extra
 * read-complete event, which the request timeouts would take for the start of a next request.
 */
public final class PriorKnowledge extends ChannelInboundHandlerAdapter {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  private final Consumer<Channel> toHttp2;
  // The start of a preface that arrived in pieces.
  private ByteBuf partial;

  /** {@code toHttp2} replaces the connection's HTTP/1.1 handlers with HTTP/2's. */
  public PriorKnowledge(Consumer<Channel> toHttp2) {
    this.toHttp2 = toHttp2;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf received)) {
      ctx.fireChannelRead(msg);
      return;
    }
    ByteBuf in = received;
    if (partial != null) {
      in = partial.writeBytes(received);
      received.release();
      partial = null;
    }
    int length = PREFACE.readableBytes();
    int n = Math.min(in.readableBytes(), length);
    boolean preface = ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n);
    if (preface && n < length) {
      partial = ctx.alloc().buffer(length).writeBytes(in);
      in.release();
      return;
    }
    if (preface) {
      toHttp2.accept(ctx.channel());
    }
    // HTTP/1.x goes on to the codec; a preface and what followed it to the HTTP/2 codec.
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(in);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (partial != null) {
      ReferenceCountUtil.release(partial);
      partial = null;
    }
  }
}
