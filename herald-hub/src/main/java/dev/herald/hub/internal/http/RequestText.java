package dev.herald.hub.internal.http;

import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The query parameters and header values of a request as the UTF-8 text they encode, decoded
 * strictly. Netty keeps the request line and header values one byte per char (ISO-8859-1), and its
 * query decoder turns percent-encoded bytes that are not UTF-8 into U+FFFD: {@code
 * ?topic=%FF%FEbad} would name a topic of replacement characters that no publisher can reach, and a
 * raw {@code é} would become {@code Ã©}. Here the bytes are decoded as UTF-8, and bytes that are
 * not UTF-8 are refused with 400 and the caller's reason code, naming the parameter and the byte.
 */
public final class RequestText {
  /** Names and values as their bytes, one ISO-8859-1 char per byte. */
  private final Map<String, List<String>> parameters;

  private RequestText(Map<String, List<String>> parameters) {
    this.parameters = parameters;
  }

  /**
   * The query parameters of {@code uri}.
   *
   * @throws Refusal 400 {@code bad_request} if the percent-encoding is broken
   */
  public static RequestText query(String uri) {
    try {
      return new RequestText(new QueryStringDecoder(uri, StandardCharsets.ISO_8859_1).parameters());
    } catch (IllegalArgumentException e) {
      throw Refusal.badRequest(
          "bad_request",
          "the query string is not valid percent-encoding: " + Redaction.redact(e.getMessage()));
    }
  }

  /**
   * Every value of the parameter {@code name}, in order, as UTF-8 text.
   *
   * @throws Refusal 400 {@code code} for a value that is not UTF-8 once percent-decoded
   */
  public List<String> all(String name, String code) {
    List<String> values = parameters.getOrDefault(name, List.of());
    List<String> decoded = new ArrayList<>(values.size());
    for (String value : values) {
      decoded.add(utf8(value, code, "?" + name + "= once percent-decoded"));
    }
    return decoded;
  }

  /**
   * The first value of header {@code name}, as UTF-8 text.
   *
   * @throws Refusal 400 {@code code} if its bytes are not UTF-8
   */
  public static Optional<String> header(HttpRequest request, String name, String code) {
    String value = request.headers().get(name);
    return value == null
        ? Optional.empty()
        : Optional.of(utf8(value, code, "the " + name + " header"));
  }

  /** {@code bytes} (one char per byte) decoded as UTF-8, or a refusal naming {@code what}. */
  private static String utf8(String bytes, String code, String what) {
    boolean ascii = true;
    for (int i = 0; i < bytes.length() && ascii; i++) {
      ascii = bytes.charAt(i) < 0x80;
    }
    if (ascii) {
      return bytes;
    }
    // A char above 0xFF cannot come off the wire; encoding it would lose it, so it is not UTF-8.
    for (int i = 0; i < bytes.length(); i++) {
      if (bytes.charAt(i) > 0xFF) {
        throw Refusal.badRequest(
            code, what + " is not UTF-8 (U+" + hex(bytes.charAt(i), 4) + " at byte " + i + ")");
      }
    }
    ByteBuffer in = ByteBuffer.wrap(bytes.getBytes(StandardCharsets.ISO_8859_1));
    CharBuffer out = CharBuffer.allocate(in.remaining());
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    CoderResult result = decoder.decode(in, out, true);
    if (!result.isError()) {
      result = decoder.flush(out);
    }
    if (result.isError() || in.hasRemaining()) {
      int at = in.position();
      throw Refusal.badRequest(
          code,
          what
              + " is not UTF-8 (byte 0x"
              + hex(in.get(at) & 0xFF, 2)
              + " at byte "
              + at
              + " does not start or continue a character)");
    }
    return out.flip().toString();
  }

  private static String hex(int value, int digits) {
    String hex = Integer.toHexString(value).toUpperCase(java.util.Locale.ROOT);
    return "0".repeat(Math.max(0, digits - hex.length())) + hex;
  }
}
