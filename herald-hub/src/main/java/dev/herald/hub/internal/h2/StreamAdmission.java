package dev.herald.hub.internal.h2;

import dev.herald.hub.internal.http.ConnectionLimiter;
import dev.herald.hub.internal.http.DecoderFailureHandler;
import dev.herald.hub.internal.http.Refusal;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;

/**
 * On an HTTP/2 stream, where HTTP/1.1 has its connection limiter and its request-line limit: a
 * stream of a connection that was over a connection limit is refused as that connection's requests
 * would be ({@link ConnectionLimiter#admitStream}), and a path longer than HTTP/1.1's request line
 * may be is 414 {@code uri_too_long}, so both protocols accept the same requests.
 */
@ChannelHandler.Sharable
final class StreamAdmission extends ChannelInboundHandlerAdapter {
  private final DecoderFailureHandler limits;

  StreamAdmission(DecoderFailureHandler limits) {
    this.limits = limits;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      try {
        ConnectionLimiter.admitStream(ctx.channel(), request);
        if (request.uri().length() > limits.maxInitialLineLength()) {
          throw limits.uriTooLong();
        }
      } catch (Refusal refusal) {
        ReferenceCountUtil.release(msg);
        throw refusal;
      }
    }
    ctx.fireChannelRead(msg);
  }
}
