package dev.herald.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 decoding exactly as the WHATWG Encoding Standard defines it, which is what browsers do: one
 * U+FFFD per maximal invalid subpart.
 *
 * <p>Well-formed UTF-8 has only one decoding, so only ill-formed input needs the standard's
 * algorithm (the JDK's decoder differs on some: encoded surrogates such as {@code ED A0 80} are
 * three U+FFFD in browsers, one in the JDK). The common cases take fast paths: ASCII is copied;
 * Latin-1 text (ASCII plus two-byte sequences for U+0080 to U+00FF, which covers most European text
 * and JSON) is decoded here eight ASCII bytes at a time into a reused buffer, several times faster
 * than the JDK 17 decoder; other well-formed text goes to the JDK's decoder.
 *
 * <p>An instance keeps that buffer, so it is not thread-safe: one per parser.
 */
final class Utf8 {
  /** Reads eight bytes at once; the byte order is irrelevant to the bit tests made on them. */
  static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private static final long HIGH_BITS = 0x8080808080808080L;
  private static final char REPLACEMENT = '\uFFFD';

  /** The Latin-1 buffer is not kept above this size, so one huge event does not pin memory. */
  private static final int MAX_RETAINED_BUFFER_BYTES = 1024 * 1024;

  private byte[] latin1 = new byte[256];

  /**
   * Decodes {@code len} bytes of {@code b} from {@code off}; an unfinished sequence at the end is
   * one U+FFFD.
   */
  static String decode(byte[] b, int off, int len) {
    return new Utf8().decodeText(b, off, len);
  }

  /** Like {@link #decode}, reusing this instance's buffer. */
  String decodeText(byte[] b, int off, int len) {
    int end = off + len;
    int i = skipAscii(b, off, end);
    if (i == end) {
      return new String(b, off, len, StandardCharsets.ISO_8859_1);
    }
    String latin1Text = decodeLatin1(b, off, end, i);
    if (latin1Text != null) {
      return latin1Text;
    }
    if (isWellFormed(b, i, end)) {
      return new String(b, off, len, StandardCharsets.UTF_8);
    }
    return decodeWithReplacement(b, off, end, i);
  }

  /**
   * Decodes text whose characters are all below U+0100, from {@code i}, the first non-ASCII byte;
   * returns null at the first byte that is neither ASCII nor part of the well-formed two-byte
   * sequence of such a character ({@code C2} or {@code C3}, then a continuation byte).
   */
  private String decodeLatin1(byte[] b, int off, int end, int i) {
    int len = end - off;
    byte[] out = latin1.length >= len ? latin1 : new byte[len];
    int n = i - off;
    System.arraycopy(b, off, out, 0, n);
    while (i < end) {
      byte x = b[i];
      if (x >= 0) {
        // An ASCII run, eight bytes at a time; out is as long as the input, so they fit.
        long word;
        while (i + 8 <= end && ((word = (long) LONGS.get(b, i)) & HIGH_BITS) == 0) {
          LONGS.set(out, n, word);
          i += 8;
          n += 8;
        }
        while (i < end && b[i] >= 0) {
          out[n++] = b[i++];
        }
      } else if ((x == (byte) 0xC2 || x == (byte) 0xC3)
          && i + 1 < end
          && isContinuation(b[i + 1])) {
        out[n++] = (byte) (((x & 0x03) << 6) | (b[i + 1] & 0x3F));
        i += 2;
      } else {
        return null;
      }
    }
    if (out != latin1 && out.length <= MAX_RETAINED_BUFFER_BYTES) {
      latin1 = out;
    }
    return new String(out, 0, n, StandardCharsets.ISO_8859_1);
  }

  /** Returns the index of the first non-ASCII byte from {@code i}, or {@code end}. */
  private static int skipAscii(byte[] b, int i, int end) {
    while (i + 8 <= end && ((long) LONGS.get(b, i) & HIGH_BITS) == 0) {
      i += 8;
    }
    while (i < end && b[i] >= 0) {
      i++;
    }
    return i;
  }

  private static boolean isContinuation(byte x) {
    return (x & 0xC0) == 0x80;
  }

  /** Whether the bytes are well-formed UTF-8: the standard's decoder would report no error. */
  private static boolean isWellFormed(byte[] b, int i, int end) {
    while (i < end) {
      int x = b[i] & 0xFF;
      if (x < 0x80) {
        i = skipAscii(b, i + 1, end);
      } else if (x >= 0xC2 && x <= 0xDF) {
        if (i + 1 >= end || !isContinuation(b[i + 1])) {
          return false;
        }
        i += 2;
      } else if (x >= 0xE0 && x <= 0xEF) {
        if (i + 2 >= end) {
          return false;
        }
        int y = b[i + 1] & 0xFF;
        int lower = x == 0xE0 ? 0xA0 : 0x80;
        int upper = x == 0xED ? 0x9F : 0xBF;
        if (y < lower || y > upper || !isContinuation(b[i + 2])) {
          return false;
        }
        i += 3;
      } else if (x >= 0xF0 && x <= 0xF4) {
        if (i + 3 >= end) {
          return false;
        }
        int y = b[i + 1] & 0xFF;
        int lower = x == 0xF0 ? 0x90 : 0x80;
        int upper = x == 0xF4 ? 0x8F : 0xBF;
        if (y < lower || y > upper || !isContinuation(b[i + 2]) || !isContinuation(b[i + 3])) {
          return false;
        }
        i += 4;
      } else {
        return false;
      }
    }
    return true;
  }

  /** The Encoding Standard's UTF-8 decoder, with U+FFFD for each error, from {@code start}. */
  private static String decodeWithReplacement(byte[] b, int off, int end, int start) {
    char[] out = new char[end - off];
    int n = 0;
    for (int i = off; i < start; i++) {
      out[n++] = (char) b[i];
    }
    int codePoint = 0;
    int needed = 0;
    int seen = 0;
    int lower = 0x80;
    int upper = 0xBF;
    for (int i = start; i < end; i++) {
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
