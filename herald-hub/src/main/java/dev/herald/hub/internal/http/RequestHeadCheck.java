package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;

/**
 * A handler that checks each request head and refuses it by throwing a {@link Refusal}, which the
 * error responder answers; the refused request is released here, so nothing after it sees it.
 */
abstract class RequestHeadCheck extends ChannelInboundHandlerAdapter {
  @Override
  public final void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request) {
      try {
        check(request);
      } catch (Refusal refusal) {
        ReferenceCountUtil.release(msg);
        throw refusal;
      }
    }
    ctx.fireChannelRead(msg);
  }

  /**
   * Checks a request head.
   *
   * @throws Refusal saying what is wrong with it
   */
  abstract void check(HttpRequest request);
}
