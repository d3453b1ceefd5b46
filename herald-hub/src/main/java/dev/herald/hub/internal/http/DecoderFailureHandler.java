package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.PrematureChannelClosureException;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;

/**
 * Turns what {@code HttpServerCodec} could not decode into a refusal: a request line over the limit
 * is 414, headers over the limit 431, anything else malformed 400. A client that closed in the
 * middle of a request head is not refused (nobody is there to read it): its remains are dropped.
 */
@ChannelHandler.Sharable
public final class DecoderFailureHandler extends ChannelInboundHandlerAdapter {
  private final int maxInitialLineLength;
  private final int maxHeaderSize;

  /** Names the codec's limits in the messages it writes. */
  public DecoderFailureHandler(int maxInitialLineLength, int maxHeaderSize) {
    this.maxInitialLineLength = maxInitialLineLength;
    this.maxHeaderSize = maxHeaderSize;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpObject http && http.decoderResult().isFailure()) {
      DecoderResult result = http.decoderResult();
      ReferenceCountUtil.release(msg);
      if (result.cause() instanceof PrematureChannelClosureException) {
        return;
      }
      // Whatever the router recorded belongs to an earlier request on this connection.
      RequestInfo.set(ctx.channel(), new RequestInfo("-", "-", null, false));
      throw refusal(result.cause());
    }
    ctx.fireChannelRead(msg);
  }

  /** The 414 refusal of a request line (or an HTTP/2 request's path) over the limit. */
  public Refusal uriTooLong() {
    return Refusal.of(
        HttpResponseStatus.REQUEST_URI_TOO_LONG,
        "uri_too_long",
        "the request line is longer than " + maxInitialLineLength + " bytes; shorten the URL");
  }

  /** The longest request line, in bytes. */
  public int maxInitialLineLength() {
    return maxInitialLineLength;
  }

  private Refusal refusal(Throwable cause) {
    if (cause instanceof TooLongHttpLineException) {
      return uriTooLong();
    }
    if (cause instanceof TooLongHttpHeaderException) {
      return Refusal.of(
          HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
          "headers_too_large",
          "the request headers are larger than " + maxHeaderSize + " bytes; send fewer or shorter");
    }
    return Refusal.badRequest(
        "bad_request", "the request is not valid HTTP/1.1 (" + cause.getMessage() + ")");
  }
}
