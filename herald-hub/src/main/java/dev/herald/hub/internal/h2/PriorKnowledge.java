package dev.herald.hub.internal.h2;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import java.util.List;
import java.util.function.Consumer;

/**
 * Cleartext HTTP/2 by prior knowledge (RFC 9113, section 3.3) on the plain port: a client that
 * opens with the HTTP/2 connection preface ({@code PRI * HTTP/2.0...}) gets HTTP/2; any other first
 * byte leaves the connection to HTTP/1.1, untouched. The first byte that differs from the preface
 * decides (no request method starts with {@code PRI}), so an HTTP/1.1 request is never delayed; the
 * handler then removes itself and costs nothing more.
 */
public final class PriorKnowledge extends ByteToMessageDecoder {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  private final Consumer<Channel> toHttp2;

  /** {@code toHttp2} replaces the connection's HTTP/1.1 handlers with HTTP/2's. */
  public PriorKnowledge(Consumer<Channel> toHttp2) {
    this.toHttp2 = toHttp2;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int length = PREFACE.readableBytes();
    int n = Math.min(in.readableBytes(), length);
    if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n)) {
      // HTTP/1.x: what was read goes on to the codec.
      ctx.pipeline().remove(this);
      return;
    }
    if (n < length) {
      return;
    }
    toHttp2.accept(ctx.channel());
    // The preface and whatever followed go on to the HTTP/2 codec.
    ctx.pipeline().remove(this);
  }
}
