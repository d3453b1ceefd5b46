package dev.herald.core;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * An incremental parser for {@code text/event-stream}, implementing the WHATWG "event stream
 * interpretation" to the letter.
 *
 * <p>Feed it the bytes of one connection in chunks of any size; what it reports never depends on
 * where the chunks split. It strips one BOM at stream start, accepts CR, LF and CRLF line ends (a
 * CR is acted on at once, so a stream whose last byte is CR loses nothing), decodes UTF-8 as
 * browsers do and dispatches events, comments and reconnection times to a {@link Handler}.
 *
 * <pre>{@code
 * SseParser parser = SseParser.builder().lastEventId(resumeFrom).build(event -> show(event));
 * parser.feed(chunk);           // as bytes arrive
 * String resume = parser.lastEventId();
 * }</pre>
 *
 * <p>Memory is bounded: a line longer than {@link Builder#maxLineBytes} or event data larger than
 * {@link Builder#maxEventBytes} throws {@link SseLimitExceededException} as soon as the limit is
 * crossed. An unterminated event at end of stream is never dispatched: simply stop feeding.
 *
 * <p>Not thread-safe: one connection's bytes are fed by one thread at a time.
 */
public final class SseParser {
  /** Receives what the parser finds. Only {@link #onEvent} must be implemented. */
  @FunctionalInterface
  public interface Handler {
    /**
     * A dispatched event. Its {@link Event#id()} is the stream's last event ID at dispatch (absent
     * when empty), its type {@code message} unless the stream named another.
     */
    void onEvent(Event event);

    /** A comment line's text: everything after the colon, exactly as sent. */
    default void onComment(String comment) {}

    /** A valid {@code retry:} field: the new reconnection time (saturated, never negative). */
    default void onRetry(Duration reconnectionTime) {}
  }

  /** Default for {@link Builder#maxEventBytes}: 32 MiB, so events of 16 MiB and more pass. */
  public static final int DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024;

  /** Default for {@link Builder#maxLineBytes}: as large as the default event. */
  public static final int DEFAULT_MAX_LINE_BYTES = DEFAULT_MAX_EVENT_BYTES;

  private static final byte[] DATA = {'d', 'a', 't', 'a'};
  private static final byte[] EVENT = {'e', 'v', 'e', 'n', 't'};
  private static final byte[] ID = {'i', 'd'};
  private static final byte[] RETRY = {'r', 'e', 't', 'r', 'y'};
  private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

  /** Buffers above this are released after use, so one huge event does not pin memory. */
  private static final int RETAINED_BUFFER_BYTES = 64 * 1024;

  private final Handler handler;
  private final int maxLineBytes;
  private final int maxEventBytes;

  private boolean bomDone;
  private int bomMatched;
  private boolean skipLf;
  private byte[] line = new byte[256];
  private int lineLength;
  private byte[] data = new byte[256];
  private int dataLength;
  private String eventType = "";
  private String idBuffer;
  private String lastEventId;
  private byte[] scratch;

  private SseParser(Builder builder, Handler handler) {
    this.handler = Objects.requireNonNull(handler, "handler");
    this.maxLineBytes = builder.maxLineBytes;
    this.maxEventBytes = builder.maxEventBytes;
    this.lastEventId = builder.lastEventId;
    this.idBuffer = builder.lastEventId;
  }

  /** Returns a builder with the default limits and an empty last event ID. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a parser with the default limits that reports events to {@code handler}. */
  public static SseParser create(Handler handler) {
    return builder().build(handler);
  }

  /**
   * The last event ID: set when an event block ends (even one with no data), never by an {@code
   * id:} whose event was cut off. This is what a reconnecting client sends as {@code
   * Last-Event-ID}; empty when there is none.
   */
  public String lastEventId() {
    return lastEventId;
  }

  /** Parses all of {@code bytes}. */
  public void feed(byte[] bytes) {
    feed(bytes, 0, bytes.length);
  }

  /** Parses the remaining bytes of {@code buffer}, advancing its position to its limit. */
  public void feed(ByteBuffer buffer) {
    if (buffer.hasArray()) {
      int n = buffer.remaining();
      feed(buffer.array(), buffer.arrayOffset() + buffer.position(), n);
      buffer.position(buffer.position() + n);
      return;
    }
    if (scratch == null) {
      scratch = new byte[8192];
    }
    while (buffer.hasRemaining()) {
      int n = Math.min(scratch.length, buffer.remaining());
      buffer.get(scratch, 0, n);
      feed(scratch, 0, n);
    }
  }

  /**
   * Parses {@code length} bytes of {@code bytes} from {@code offset}.
   *
   * @throws SseLimitExceededException if a line or an event grows past its limit
   */
  public void feed(byte[] bytes, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    int i = offset;
    int end = offset + length;
    if (!bomDone) {
      i = skipBom(bytes, i, end);
    }
    while (i < end) {
      if (skipLf) {
        skipLf = false;
        if (bytes[i] == '\n') {
          i++;
          continue;
        }
      }
      int j = i;
      while (j < end) {
        byte b = bytes[j];
        if (b == '\n' || b == '\r') {
          break;
        }
        j++;
      }
      if (j == end) {
        appendToLine(bytes, i, end - i);
        return;
      }
      if (lineLength == 0) {
        checkLineLength(j - i);
        processLine(bytes, i, j - i);
      } else {
        appendToLine(bytes, i, j - i);
        // Reset before processing: a handler that throws must not leave a stale line behind.
        int n = lineLength;
        lineLength = 0;
        processLine(line, 0, n);
        if (line.length > RETAINED_BUFFER_BYTES) {
          line = new byte[256];
        }
      }
      skipLf = bytes[j] == '\r';
      i = j + 1;
    }
  }

  private int skipBom(byte[] bytes, int i, int end) {
    while (i < end && bomMatched < BOM.length) {
      if (bytes[i] != BOM[bomMatched]) {
        // Not a BOM after all: what matched so far is the start of the first line.
        bomDone = true;
        appendToLine(BOM, 0, bomMatched);
        return i;
      }
      bomMatched++;
      i++;
    }
    bomDone = bomMatched == BOM.length;
    return i;
  }

  private void appendToLine(byte[] bytes, int offset, int length) {
    if (length == 0) {
      return;
    }
    int needed = lineLength + length;
    checkLineLength(needed);
    if (needed > line.length) {
      line = Arrays.copyOf(line, (int) Math.min(Math.max(needed, 2L * line.length), maxLineBytes));
    }
    System.arraycopy(bytes, offset, line, lineLength, length);
    lineLength = needed;
  }

  private void checkLineLength(long length) {
    if (length > maxLineBytes) {
      discardAll();
      throw new SseLimitExceededException(
          "maxLineBytes", maxLineBytes, "A line of " + length + "+ bytes");
    }
  }

  private void processLine(byte[] b, int off, int len) {
    if (len == 0) {
      dispatch();
      return;
    }
    if (b[off] == ':') {
      handler.onComment(Utf8.decode(b, off + 1, len - 1));
      return;
    }
    int end = off + len;
    int colon = off;
    while (colon < end && b[colon] != ':') {
      colon++;
    }
    int nameLength = colon - off;
    int valueOffset = Math.min(colon + 1, end);
    if (valueOffset < end && b[valueOffset] == ' ') {
      valueOffset++;
    }
    int valueLength = end - valueOffset;
    if (is(DATA, b, off, nameLength)) {
      appendData(b, valueOffset, valueLength);
    } else if (is(EVENT, b, off, nameLength)) {
      eventType = Utf8.decode(b, valueOffset, valueLength);
    } else if (is(ID, b, off, nameLength)) {
      if (!containsNul(b, valueOffset, valueLength)) {
        idBuffer = Utf8.decode(b, valueOffset, valueLength);
      }
    } else if (is(RETRY, b, off, nameLength)) {
      parseRetry(b, valueOffset, valueLength);
    }
    // Any other field is ignored, as the standard says.
  }

  private void appendData(byte[] b, int off, int len) {
    long needed = (long) dataLength + len + 1;
    if (needed > maxEventBytes) {
      discardAll();
      throw new SseLimitExceededException(
          "maxEventBytes", maxEventBytes, "Event data of " + needed + "+ bytes");
    }
    if (needed > data.length) {
      data = Arrays.copyOf(data, (int) Math.min(Math.max(needed, 2L * data.length), maxEventBytes));
    }
    System.arraycopy(b, off, data, dataLength, len);
    data[dataLength + len] = '\n';
    dataLength = (int) needed;
  }

  private void parseRetry(byte[] b, int off, int len) {
    if (len == 0) {
      return;
    }
    long value = 0;
    for (int i = off; i < off + len; i++) {
      int digit = b[i] - '0';
      if (digit < 0 || digit > 9) {
        return;
      }
      value = value > (Long.MAX_VALUE - digit) / 10 ? Long.MAX_VALUE : value * 10 + digit;
    }
    handler.onRetry(Duration.ofMillis(value));
  }

  private void dispatch() {
    lastEventId = idBuffer;
    if (dataLength == 0) {
      eventType = "";
      return;
    }
    // UTF-8 never encodes LF inside another character, so decoding the whole buffer at once equals
    // decoding line by line; the final LF is dropped, as the standard says.
    String eventData = Utf8.decode(data, 0, dataLength - 1);
    String type = eventType.isEmpty() ? Event.DEFAULT_TYPE : eventType;
    dataLength = 0;
    eventType = "";
    if (data.length > RETAINED_BUFFER_BYTES) {
      data = new byte[256];
    }
    handler.onEvent(Event.parsed(type, eventData, lastEventId));
  }

  private void discardAll() {
    lineLength = 0;
    dataLength = 0;
    eventType = "";
    line = new byte[256];
    data = new byte[256];
  }

  private static boolean is(byte[] name, byte[] b, int off, int len) {
    if (len != name.length) {
      return false;
    }
    for (int i = 0; i < len; i++) {
      if (b[off + i] != name[i]) {
        return false;
      }
    }
    return true;
  }

  private static boolean containsNul(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] == 0) {
        return true;
      }
    }
    return false;
  }

  /** Configures an {@link SseParser}. */
  public static final class Builder {
    private int maxLineBytes = DEFAULT_MAX_LINE_BYTES;
    private int maxEventBytes = DEFAULT_MAX_EVENT_BYTES;
    private String lastEventId = "";

    private Builder() {}

    /** The longest line accepted, in bytes, line end excluded. */
    public Builder maxLineBytes(int maxLineBytes) {
      if (maxLineBytes < 1) {
        throw new IllegalArgumentException("maxLineBytes must be positive: " + maxLineBytes);
      }
      this.maxLineBytes = maxLineBytes;
      return this;
    }

    /** The most data one event may carry, in bytes, counting one LF per data line. */
    public Builder maxEventBytes(int maxEventBytes) {
      if (maxEventBytes < 1) {
        throw new IllegalArgumentException("maxEventBytes must be positive: " + maxEventBytes);
      }
      this.maxEventBytes = maxEventBytes;
      return this;
    }

    /**
     * The last event ID the stream starts with: a reconnecting client passes the previous
     * connection's, so events without an {@code id:} carry it on.
     */
    public Builder lastEventId(String lastEventId) {
      this.lastEventId = Objects.requireNonNull(lastEventId, "lastEventId");
      return this;
    }

    /** Returns a parser that reports to {@code handler}. */
    public SseParser build(Handler handler) {
      return new SseParser(this, handler);
    }
  }
}
