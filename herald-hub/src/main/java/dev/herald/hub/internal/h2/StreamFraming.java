package dev.herald.hub.internal.h2;

import dev.herald.hub.internal.http.Http10Streams;
import dev.herald.hub.internal.http.StaysOnStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first handler of an HTTP/2 stream, where HTTP/1.1's framing meets HTTP/2's:
 *
 * <ul>
 *   <li>An event stream writes whole HTTP/1.1 chunks as raw bytes ({@code ChannelSink}, encoded
 *       once for every stream of every protocol); here each becomes a DATA frame of its data, and
 *       the terminating chunk an empty DATA frame that ends the stream (END_STREAM).
 *   <li>A response to {@code HEAD} carries no content in HTTP/2 either (RFC 9113, section 8.1.1):
 *       its HEADERS end the stream and its DATA is dropped, as HTTP/1.1's encoder does.
 * </ul>
 *
 * It stays when the stream's pipeline is stripped for the event stream ({@link StaysOnStream}).
 */
final class StreamFraming extends ChannelDuplexHandler implements StaysOnStream {
  private static final Logger LOG = LoggerFactory.getLogger(StreamFraming.class);

  private boolean head;
  private boolean dropping;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2HeadersFrame headers
        && HttpMethod.HEAD.asciiName().contentEquals(String.valueOf(headers.headers().method()))) {
      head = true;
    }
    ctx.fireChannelRead(msg);
  }

  /**
   * An HTTP/2 error on this stream (a malformed request, a reset): the codec has answered it with
   * RST_STREAM and the stream is closing; nothing for the request handlers to answer or log.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof Http2Exception) {
      LOG.debug("HTTP/2 stream of {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
      ctx.close();
      return;
    }
    ctx.fireExceptionCaught(cause);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf chunk) {
      Http10Streams.unframe(chunk);
      ctx.write(new DefaultHttp2DataFrame(chunk, !chunk.isReadable()), promise);
    } else if (head && msg instanceof Http2HeadersFrame headers && !headers.isEndStream()) {
      dropping = true;
      ctx.write(new DefaultHttp2HeadersFrame(headers.headers(), true), promise);
    } else if (dropping && msg instanceof Http2DataFrame data) {
      data.release();
      promise.trySuccess();
    } else {
      ctx.write(msg, promise);
    }
  }
}
