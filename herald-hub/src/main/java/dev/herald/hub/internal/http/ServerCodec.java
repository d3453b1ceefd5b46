package dev.herald.hub.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Netty's {@code HttpServerCodec} with one change: a request that carries both {@code
 * Transfer-Encoding} and {@code Content-Length} keeps both headers. Netty's decoder drops the
 * length and reads on, as RFC 7230 allowed; RFC 9112 (section 6.1) lets a server refuse such a
 * request instead, and the hub does ({@link FramingHandler}): it is how a proxy and a server are
 * made to disagree on where a request ends (request smuggling).
 *
 * <p>As in {@code HttpServerCodec}, the encoder knows which requests the responses answer, so a
 * response to {@code HEAD} goes out without its body.
 */
public final class ServerCodec
    extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {
  // The methods of the requests decoded and not answered yet, in order.
  private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);

  /** A codec with the given limits of the request line, the headers and a content chunk. */
  public ServerCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
    init(
        new Decoder(
            new HttpDecoderConfig()
                .setMaxInitialLineLength(maxInitialLineLength)
                .setMaxHeaderSize(maxHeaderSize)
                .setMaxChunkSize(maxChunkSize)),
        new Encoder());
  }

  private final class Decoder extends HttpRequestDecoder {
    Decoder(HttpDecoderConfig config) {
      super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out)
        throws Exception {
      int before = out.size();
      super.decode(ctx, buffer, out);
      for (int i = before; i < out.size(); i++) {
        if (out.get(i) instanceof HttpRequest request) {
          methods.add(request.method());
        }
      }
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
      // Both headers stay: the framing handler refuses the request and the connection closes.
    }
  }

  private final class Encoder extends HttpResponseEncoder {
    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse response) {
      // An interim response (100 Continue) answers no request: the final one follows.
      HttpMethod method =
          response.status().codeClass() == HttpStatusClass.INFORMATIONAL ? null : methods.poll();
      return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(response);
    }
  }
}
