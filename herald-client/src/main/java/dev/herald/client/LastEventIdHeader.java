package dev.herald.client;

import java.nio.charset.StandardCharsets;

/**
 * The {@code Last-Event-ID} header value for an id.
 *
 * <p>The standard sends the id as its UTF-8 bytes. java.net.http (JDK 17) cannot send raw bytes in
 * a header: it refuses characters above U+00FF and control characters other than tab, and its
 * HTTP/1.1 encoder writes the rest as US-ASCII, so U+0080..U+00FF would arrive as {@code ?}. So an
 * id of printable ASCII (plus space and tab) is sent unchanged, and any other id is sent
 * percent-encoded: each UTF-8 byte outside {@code !}..{@code ~}, and {@code %} itself, becomes
 * {@code %XX}. A server can decode that back to the exact id; a server that does not sees an id it
 * does not know, which is safer than a wrong one ({@code ?}-mangled) or none (which would mean
 * "start from now").
 */
final class LastEventIdHeader {
  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private LastEventIdHeader() {}

  static String value(String id) {
    if (isPlain(id)) {
      return id;
    }
    byte[] utf8 = id.getBytes(StandardCharsets.UTF_8);
    StringBuilder encoded = new StringBuilder(utf8.length * 3);
    for (byte b : utf8) {
      int x = b & 0xFF;
      if (x > ' ' && x < 0x7F && x != '%') {
        encoded.append((char) x);
      } else {
        encoded.append('%').append(HEX[x >> 4]).append(HEX[x & 0xF]);
      }
    }
    return encoded.toString();
  }

  private static boolean isPlain(String id) {
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if ((c < ' ' && c != '\t') || c > '~') {
        return false;
      }
    }
    return true;
  }
}
