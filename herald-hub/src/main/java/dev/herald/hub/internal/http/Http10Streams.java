package dev.herald.hub.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * An event stream to an HTTP/1.0 client is not chunked: HTTP/1.0 has no chunked coding (RFC 9112,
 * section 6.1), so its body is the raw events and ends when the connection closes. For a {@code GET
 * /events} over HTTP/1.0 this adds an {@link Unchunked} handler after the codec; it drops {@code
 * Transfer-Encoding} from the stream's head (adding {@code Connection: close}) and takes the chunk
 * framing off every chunk the stream writes. HTTP/1.1 streams are left alone.
 */
@ChannelHandler.Sharable
public final class Http10Streams extends ChannelInboundHandlerAdapter {
  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (RequestInfo.routed(ctx.channel(), msg, Route.SUBSCRIBE)
        && ((HttpRequest) msg).protocolVersion().equals(HttpVersion.HTTP_1_0)) {
      ChannelPipeline pipeline = ctx.pipeline();
      ChannelHandlerContext codec = pipeline.context(ServerCodec.class);
      if (codec != null && pipeline.get(Unchunked.class) == null) {
        pipeline.addAfter(codec.name(), "http10Stream", new Unchunked());
      }
    }
    ctx.fireChannelRead(msg);
  }

  /**
   * Narrows one whole chunk as the event stream writes it ({@code chunk}, its own indices: a
   * duplicate) to its data; the terminating chunk becomes empty. For transports that frame the data
   * themselves (HTTP/1.0's close-delimited body, HTTP/2's DATA frames).
   */
  public static void unframe(ByteBuf chunk) {
    Unchunked.unframe(chunk);
  }

  /**
   * Unframes an HTTP/1.0 event stream. It stays once the pipeline is stripped to the stream, whose
   * every write is one whole chunk: the size line, the data and CRLF; the terminating chunk (size
   * 0) becomes nothing, and the stream closes the connection after it, which ends the body.
   */
  static final class Unchunked extends ChannelDuplexHandler implements StaysOnStream {
    private boolean streaming;

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      if (msg instanceof HttpResponse head && HttpUtil.isTransferEncodingChunked(head)) {
        head.headers()
            .remove(HttpHeaderNames.TRANSFER_ENCODING)
            .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        streaming = true;
      } else if (streaming && msg instanceof ByteBuf chunk) {
        unframe(chunk);
      }
      ctx.write(msg, promise);
    }

    /** Narrows {@code chunk} (its own indices: a duplicate) to its data. */
    static void unframe(ByteBuf chunk) {
      int index = chunk.readerIndex();
      int size = 0;
      byte b;
      while ((b = chunk.getByte(index)) != '\r') {
        size = size * 16 + Character.digit(b, 16);
        index++;
      }
      int start = index + 2;
      chunk.setIndex(start, start + size);
    }
  }
}
