package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * Refuses a request whose declared {@code Content-Length} is over the limit with 413 before a byte
 * of its body is read. Bodies without a length (chunked) are bounded while streaming by {@link
 * PostBodyAggregator}.
 */
@ChannelHandler.Sharable
public final class BodyLimitHandler extends ChannelInboundHandlerAdapter {
  private final int maxBodyBytes;

  /** Limits bodies to {@code maxBodyBytes}. */
  public BodyLimitHandler(int maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      long length;
      try {
        length = HttpUtil.getContentLength(request, -1L);
      } catch (NumberFormatException e) {
        ReferenceCountUtil.release(msg);
        throw Refusal.badRequest("bad_request", "the Content-Length header is not a number");
      }
      if (length > maxBodyBytes) {
        ReferenceCountUtil.release(msg);
        throw tooLarge(maxBodyBytes);
      }
    }
    ctx.fireChannelRead(msg);
  }

  /** The 413 refusal for a body over {@code maxBodyBytes}. */
  static Refusal tooLarge(int maxBodyBytes) {
    return Refusal.of(
        HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
        "body_too_large",
        "the request body is larger than "
            + maxBodyBytes
            + " bytes (--max-event-bytes); send a smaller event");
  }
}
