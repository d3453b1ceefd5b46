package dev.herald.core;

import java.nio.charset.StandardCharsets;

/**
 * UTF-8 decoding exactly as the WHATWG Encoding Standard defines it, which is what browsers do: one
 * U+FFFD per maximal invalid subpart. The JDK's decoder differs for some sequences (encoded
 * surrogates such as {@code ED A0 80} are three U+FFFD in browsers), so it is used only for input
 * that is plain ASCII.
 */
final class Utf8 {
  private static final char REPLACEMENT = '\uFFFD';

  private Utf8() {}

  /**
   * Decodes {@code len} bytes of {@code b} from {@code off}; an unfinished sequence at the end is
   * one U+FFFD.
   */
  static String decode(byte[] b, int off, int len) {
    int end = off + len;
    for (int i = off; i < end; i++) {
      if (b[i] < 0) {
        return decodeNonAscii(b, off, end, i);
      }
    }
    return new String(b, off, len, StandardCharsets.ISO_8859_1);
  }

  private static String decodeNonAscii(byte[] b, int off, int end, int firstNonAscii) {
    char[] out = new char[end - off];
    int n = 0;
    for (int i = off; i < firstNonAscii; i++) {
      out[n++] = (char) b[i];
    }
    int codePoint = 0;
    int needed = 0;
    int seen = 0;
    int lower = 0x80;
    int upper = 0xBF;
    for (int i = firstNonAscii; i < end; i++) {
      int x = b[i] & 0xFF;
      if (needed == 0) {
        if (x <= 0x7F) {
          out[n++] = (char) x;
        } else if (x >= 0xC2 && x <= 0xDF) {
          needed = 1;
          codePoint = x & 0x1F;
        } else if (x >= 0xE0 && x <= 0xEF) {
          if (x == 0xE0) {
            lower = 0xA0;
          } else if (x == 0xED) {
            upper = 0x9F;
          }
          needed = 2;
          codePoint = x & 0xF;
        } else if (x >= 0xF0 && x <= 0xF4) {
          if (x == 0xF0) {
            lower = 0x90;
          } else if (x == 0xF4) {
            upper = 0x8F;
          }
          needed = 3;
          codePoint = x & 0x7;
        } else {
          out[n++] = REPLACEMENT;
        }
        continue;
      }
      if (x < lower || x > upper) {
        // The maximal subpart so far is one error; the offending byte starts over.
        codePoint = 0;
        needed = 0;
        seen = 0;
        lower = 0x80;
        upper = 0xBF;
        out[n++] = REPLACEMENT;
        i--;
        continue;
      }
      lower = 0x80;
      upper = 0xBF;
      codePoint = (codePoint << 6) | (x & 0x3F);
      if (++seen == needed) {
        // Two bytes or more per char beyond the BMP, so out never overflows.
        if (codePoint >= 0x10000) {
          out[n++] = Character.highSurrogate(codePoint);
          out[n++] = Character.lowSurrogate(codePoint);
        } else {
          out[n++] = (char) codePoint;
        }
        codePoint = 0;
        needed = 0;
        seen = 0;
      }
    }
    if (needed != 0) {
      out[n++] = REPLACEMENT;
    }
    return new String(out, 0, n);
  }
}
