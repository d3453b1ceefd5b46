package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Aggregates the bodies of {@code POST} requests only, up to the limit; an event stream request
 * passes through untouched. A body that grows past the limit while streaming is refused with 413
 * and the JSON error body, like every other refusal.
 */
public final class PostBodyAggregator extends HttpObjectAggregator {
  private final int maxBodyBytes;

  /** Aggregates POST bodies up to {@code maxBodyBytes}. */
  public PostBodyAggregator(int maxBodyBytes) {
    super(maxBodyBytes);
    this.maxBodyBytes = maxBodyBytes;
  }

  @Override
  protected boolean isStartMessage(io.netty.handler.codec.http.HttpObject msg) throws Exception {
    return msg instanceof HttpRequest request
        && HttpMethod.POST.equals(request.method())
        && super.isStartMessage(msg);
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    ctx.fireExceptionCaught(BodyLimitHandler.tooLarge(maxBodyBytes));
  }
}
