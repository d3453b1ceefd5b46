package dev.herald.core;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * Encodes events and comments to the exact UTF-8 bytes of a {@code text/event-stream}.
 *
 * <p>Encode once, write many times: the returned array is a complete frame (ending in the blank
 * line that dispatches it) that can be written unchanged to any number of connections.
 *
 * <pre>{@code
 * byte[] frame = SseEncoder.encode(Event.builder().id("7").data("line one\nline two").build());
 * // "id: 7\ndata: line one\ndata: line two\n\n"
 * }</pre>
 *
 * <p>Each field is written as {@code name: value}: the space after the colon is the one the parser
 * strips, so values that start with a space survive. Data and comments with CR, LF or CRLF line
 * breaks become one line per line, so data that ends with a line break keeps it. The {@code event:}
 * line is left out for type {@code message}. Strings with unpaired surrogates are encoded as the
 * JDK encodes them ({@code ?}).
 */
public final class SseEncoder {
  private static final byte[] HEARTBEAT = {':', '\n'};

  private SseEncoder() {}

  /** Returns the frame for {@code event}: id, type, retry and data lines, then a blank line. */
  public static byte[] encode(Event event) {
    Frame frame = new Frame(event.data().length() + 32);
    event.id().ifPresent(id -> frame.field("id", id));
    if (!Event.DEFAULT_TYPE.equals(event.type())) {
      frame.field("event", event.type());
    }
    event.retry().ifPresent(retry -> frame.field("retry", Long.toString(wholeMillis(retry))));
    frame.lines("data: ", "data:", event.data());
    frame.newline();
    return frame.toByteArray();
  }

  /**
   * The retry in whole milliseconds, truncated; saturated at {@code Long.MAX_VALUE} like the
   * parser's, since a {@link Duration} can hold more milliseconds than a long.
   */
  private static long wholeMillis(Duration retry) {
    try {
      return retry.toMillis();
    } catch (ArithmeticException tooLong) {
      return Long.MAX_VALUE;
    }
  }

  /** Returns the lines for {@code comment}: a {@code :} line per line of its text. */
  public static byte[] encode(Comment comment) {
    if (comment.text().isEmpty()) {
      return HEARTBEAT.clone();
    }
    Frame frame = new Frame(comment.text().length() + 4);
    frame.lines(":", ":", comment.text());
    return frame.toByteArray();
  }

  /** A growable byte array that writes fields and lines. */
  private static final class Frame {
    private byte[] bytes;
    private int length;

    Frame(int capacity) {
      bytes = new byte[capacity];
    }

    void field(String name, String value) {
      ascii(name);
      if (!value.isEmpty()) {
        ascii(": ");
        text(value, 0, value.length());
      } else {
        ascii(":");
      }
      newline();
    }

    /**
     * Writes {@code text} as lines, each starting with {@code prefix} ({@code emptyPrefix} when the
     * line is empty).
     */
    void lines(String prefix, String emptyPrefix, String text) {
      int start = 0;
      int n = text.length();
      for (int i = 0; i < n; i++) {
        char c = text.charAt(i);
        if (c == '\r' || c == '\n') {
          line(prefix, emptyPrefix, text, start, i);
          if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
            i++;
          }
          start = i + 1;
        }
      }
      line(prefix, emptyPrefix, text, start, n);
    }

    private void line(String prefix, String emptyPrefix, String text, int from, int to) {
      ascii(from == to ? emptyPrefix : prefix);
      text(text, from, to);
      newline();
    }

    void newline() {
      ensure(1);
      bytes[length++] = '\n';
    }

    private void ascii(String s) {
      ensure(s.length());
      for (int i = 0; i < s.length(); i++) {
        bytes[length++] = (byte) s.charAt(i);
      }
    }

    private void text(String s, int from, int to) {
      ensure(to - from);
      // ASCII runs are copied directly; anything else goes through the JDK's UTF-8 encoder.
      int i = from;
      while (i < to) {
        char c = s.charAt(i);
        if (c >= 0x80) {
          byte[] encoded = s.substring(i, to).getBytes(StandardCharsets.UTF_8);
          ensure(encoded.length);
          System.arraycopy(encoded, 0, bytes, length, encoded.length);
          length += encoded.length;
          return;
        }
        bytes[length++] = (byte) c;
        i++;
      }
    }

    private void ensure(int more) {
      if (length + more > bytes.length) {
        bytes = Arrays.copyOf(bytes, Math.max(length + more, bytes.length * 2));
      }
    }

    byte[] toByteArray() {
      return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
    }
  }
}
