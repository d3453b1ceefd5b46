package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * Refuses a publish that is neither {@code application/json} nor (a batch, one event per line)
 * {@code application/x-ndjson} with 415, before authentication: docs/http-api.md puts 415 with the
 * route and size refusals, ahead of 401. Any request with a {@code Content-Encoding} other than
 * {@code identity} is 415 {@code unsupported_content_encoding}: the hub decodes no content coding,
 * and would otherwise read a gzipped body as JSON.
 */
@ChannelHandler.Sharable
public final class MediaTypeHandler extends ChannelInboundHandlerAdapter {
  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest request && !identity(request)) {
      ReferenceCountUtil.release(msg);
      throw Refusal.of(
          HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
          "unsupported_content_encoding",
          "the hub reads no Content-Encoding; send the body as it is (identity)");
    }
    if (RequestInfo.routed(ctx.channel(), msg, Route.PUBLISH)) {
      String mime =
          String.valueOf(HttpUtil.getMimeType((io.netty.handler.codec.http.HttpMessage) msg));
      if (!mime.equalsIgnoreCase("application/json")
          && !mime.equalsIgnoreCase("application/x-ndjson")) {
        ReferenceCountUtil.release(msg);
        throw Refusal.of(
            HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the event as Content-Type: application/json (a batch also as"
                + " application/x-ndjson)");
      }
    }
    ctx.fireChannelRead(msg);
  }

  /** Whether every content coding of the request, if it names any, is {@code identity}. */
  private static boolean identity(HttpRequest request) {
    for (String value : request.headers().getAll(HttpHeaderNames.CONTENT_ENCODING)) {
      for (String coding : value.split(",", -1)) {
        String trimmed = coding.trim();
        if (!trimmed.isEmpty() && !HttpHeaderValues.IDENTITY.contentEqualsIgnoreCase(trimmed)) {
          return false;
        }
      }
    }
    return true;
  }
}
