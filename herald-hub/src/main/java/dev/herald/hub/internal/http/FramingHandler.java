package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Refuses a request whose body length the hub and a proxy in front of it could read differently
 * (RFC 9112, section 6): {@code Transfer-Encoding} together with {@code Content-Length}, {@code
 * Transfer-Encoding} in HTTP/1.0, or transfer codings other than one final {@code chunked} — 400
 * {@code framing_invalid}; {@code chunked} after codings the hub does not decode ({@code gzip,
 * chunked}) — 501 {@code unsupported_transfer_encoding}. The refusal closes the connection, and
 * nothing the client sent after the refused head is read as a request ({@link CloseGate}).
 *
 * <p>Several or differing {@code Content-Length} values never get here: the codec fails to decode
 * them, and {@link DecoderFailureHandler} answers 400.
 */
@ChannelHandler.Sharable
public final class FramingHandler extends RequestHeadCheck {
  private static final String CHUNKED = HttpHeaderValues.CHUNKED.toString();

  @Override
  void check(HttpRequest request) {
    HttpHeaders headers = request.headers();
    if (!headers.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
      return;
    }
    if (headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
      throw invalid("a request must not carry both Content-Length and Transfer-Encoding");
    }
    if (request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
      throw invalid("HTTP/1.0 has no Transfer-Encoding; send the body with a Content-Length");
    }
    List<String> codings = codings(headers.getAll(HttpHeaderNames.TRANSFER_ENCODING));
    if (codings.isEmpty() || !codings.get(codings.size() - 1).equals(CHUNKED)) {
      throw invalid("the last transfer coding must be chunked (Transfer-Encoding: chunked)");
    }
    if (codings.indexOf(CHUNKED) != codings.size() - 1) {
      throw invalid("the chunked transfer coding must be applied once");
    }
    if (codings.size() > 1) {
      throw Refusal.of(
          HttpResponseStatus.NOT_IMPLEMENTED,
          "unsupported_transfer_encoding",
          "the hub decodes no transfer coding but chunked; send Transfer-Encoding: chunked alone");
    }
  }

  /** The codings of every {@code Transfer-Encoding} line, in order, lower case. */
  private static List<String> codings(List<String> values) {
    List<String> codings = new ArrayList<>(1);
    for (String value : values) {
      for (String coding : value.split(",", -1)) {
        String trimmed = coding.trim();
        if (!trimmed.isEmpty()) {
          codings.add(trimmed.toLowerCase(Locale.ROOT));
        }
      }
    }
    return codings;
  }

  private static Refusal invalid(String message) {
    return Refusal.badRequest("framing_invalid", message);
  }
}
