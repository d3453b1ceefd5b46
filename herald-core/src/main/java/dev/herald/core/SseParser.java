package dev.herald.core;

import dev.herald.core.internal.Checks;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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

  /** Reads four bytes at once, little-endian as the two constants after it are written. */
  private static final VarHandle INTS =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  private static final int DATA_AS_INT = 'd' | 'a' << 8 | 't' << 16 | 'a' << 24;
  private static final int EVEN_AS_INT = 'e' | 'v' << 8 | 'e' << 16 | 'n' << 24;

  // Eight copies of a byte, for scanning eight bytes at a time.
  private static final long LF_BYTES = 0x0A0A0A0A0A0A0A0AL;
  private static final long CR_BYTES = 0x0D0D0D0D0D0D0D0DL;
  private static final long LOW_BITS = 0x0101010101010101L;
  private static final long BELOW_CR_BYTES = 0x0E0E0E0E0E0E0E0EL;
  private static final long HIGH_BITS = 0x8080808080808080L;

  private static final int INITIAL_BUFFER_BYTES = 256;

  /**
   * Buffers grow with what the stream sends. After use, one larger than this is kept only while it
   * is used to a quarter or more (so a stream of large events does not regrow it for each event)...
   */
  private static final int SMALL_BUFFER_BYTES = 64 * 1024;

  /** ...and one larger than this is never kept, so one huge event does not pin memory. */
  private static final int MAX_RETAINED_BUFFER_BYTES = 1024 * 1024;

  /** Event types up to this long are remembered, to reuse their string. */
  private static final int CACHED_TYPE_MAX_BYTES = 256;

  private final Handler handler;
  private final Utf8 utf8 = new Utf8();
  private final int maxLineBytes;
  private final int maxEventBytes;

  private boolean bomDone;
  private int bomMatched;
  private boolean skipLf;
  private byte[] line = new byte[INITIAL_BUFFER_BYTES];
  private int lineLength;
  private byte[] data = new byte[INITIAL_BUFFER_BYTES];
  private int dataLength;

  /** False once a data line of the current event may hold non-ASCII bytes. */
  private boolean dataAscii = true;

  /** Whether the line just found by {@link #indexOfLineEnd} is all ASCII. */
  private boolean lineAscii;

  /** The event type buffer; the standard's empty buffer is kept as the type it stands for. */
  private String eventType = Event.DEFAULT_TYPE;

  /** The last event type decoded, and its bytes, to reuse the string when they repeat. */
  private byte[] cachedTypeBytes = {};

  private String cachedType = "";
  private String idBuffer;
  private String lastEventId;
  private byte[] scratch;

  /** Events dispatched by the current {@link #parse} call. */
  private int dispatched;

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
    parse(bytes, offset, offset + length, Integer.MAX_VALUE);
  }

  /**
   * Parses the remaining bytes of {@code buffer} until {@code maxEvents} events have been
   * dispatched or the bytes run out, and returns how many events were dispatched. The position is
   * advanced past exactly the bytes parsed: to just after the line that completed the last event
   * allowed, or to the limit. Feeding the rest later gives what feeding everything at once would
   * have, so a consumer with bounded demand takes events only as it wants them, with no need to
   * look for line ends itself.
   *
   * <p>Only events count: comments, {@code retry:} fields and blocks without data do not, and they
   * are reported as they are parsed, up to the line that completes the last event allowed.
   *
   * @throws IllegalArgumentException if {@code maxEvents} is not positive
   * @throws SseLimitExceededException if a line or an event grows past its limit
   */
  public int feed(ByteBuffer buffer, int maxEvents) {
    Checks.positive("maxEvents", maxEvents);
    if (buffer.hasArray()) {
      int start = buffer.arrayOffset() + buffer.position();
      int stop = parse(buffer.array(), start, start + buffer.remaining(), maxEvents);
      buffer.position(buffer.position() + (stop - start));
      return dispatched;
    }
    if (scratch == null) {
      scratch = new byte[8192];
    }
    int total = 0;
    while (total < maxEvents && buffer.hasRemaining()) {
      int position = buffer.position();
      int n = Math.min(scratch.length, buffer.remaining());
      buffer.get(scratch, 0, n);
      int stop = parse(scratch, 0, n, maxEvents - total);
      // Bytes copied but not parsed go back to the buffer.
      buffer.position(position + stop);
      total += dispatched;
    }
    return total;
  }

  /**
   * Parses {@code bytes} from {@code offset} to {@code end}, stopping after the line that
   * dispatches the {@code maxEvents}th event; returns where it stopped and leaves the number of
   * events dispatched in {@link #dispatched}.
   */
  private int parse(byte[] bytes, int offset, int end, int maxEvents) {
    dispatched = 0;
    int i = offset;
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
      int j = indexOfLineEnd(bytes, i, end);
      if (j == end) {
        appendToLine(bytes, i, end - i);
        return end;
      }
      if (lineLength == 0) {
        checkLineLength(j - i);
        processLine(bytes, i, j - i, lineAscii);
      } else {
        appendToLine(bytes, i, j - i);
        // Reset before processing: a handler that throws must not leave a stale line behind.
        int n = lineLength;
        lineLength = 0;
        if (release(line.length, n)) {
          // Release what one long line grew, but keep a buffer that lines of this size need.
          byte[] full = line;
          line = new byte[INITIAL_BUFFER_BYTES];
          processLine(full, 0, n, false);
        } else {
          processLine(line, 0, n, false);
        }
      }
      skipLf = bytes[j] == '\r';
      i = j + 1;
      if (dispatched >= maxEvents) {
        return i;
      }
    }
    return end;
  }

  /**
   * Returns the index of the first CR or LF in {@code [i, end)}, or {@code end}. Eight bytes at a
   * time: {@code (v - 0x01..) & ~v & 0x80..} flags the zero bytes of {@code v} (a borrow can also
   * flag a byte above a real zero, never below one), so the lowest flag in little-endian order is
   * the first CR or LF.
   *
   * <p>On the way it notes in {@link #lineAscii} whether the bytes it read were all ASCII, so a
   * line found whole in the input need not be scanned again before decoding.
   */
  private int indexOfLineEnd(byte[] b, int i, int end) {
    long seen = 0;
    // Sixteen bytes per step while no byte is below 0x0E, then the exact test below.
    while (i + 16 <= end) {
      long first = (long) Utf8.LONGS.get(b, i);
      long second = (long) Utf8.LONGS.get(b, i + 8);
      long below = ((first - BELOW_CR_BYTES) & ~first) | ((second - BELOW_CR_BYTES) & ~second);
      if ((below & HIGH_BITS) != 0) {
        break;
      }
      seen |= first | second;
      i += 16;
    }
    while (i + 8 <= end) {
      long word = (long) Utf8.LONGS.get(b, i);
      seen |= word;
      // A cheaper first test by the same trick: no byte below 0x0E means no CR (0x0D) and no LF.
      if (((word - BELOW_CR_BYTES) & ~word & HIGH_BITS) == 0) {
        i += 8;
        continue;
      }
      long lf = word ^ LF_BYTES;
      long cr = word ^ CR_BYTES;
      long found = (((lf - LOW_BITS) & ~lf) | ((cr - LOW_BITS) & ~cr)) & HIGH_BITS;
      if (found != 0) {
        lineAscii = (seen & HIGH_BITS) == 0;
        return i + (Long.numberOfTrailingZeros(found) >>> 3);
      }
      i += 8;
    }
    while (i < end) {
      byte x = b[i];
      // A negative byte sign-extends into the high bit of the top byte.
      seen |= x;
      if (x == '\n' || x == '\r') {
        lineAscii = (seen & HIGH_BITS) == 0;
        return i;
      }
      i++;
    }
    return end;
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

  /**
   * Processes one line, line end excluded. {@code ascii} says the line is known to be all ASCII,
   * which saves the decoder's scan; false means it may or may not be.
   */
  private void processLine(byte[] b, int off, int len, boolean ascii) {
    if (len == 0) {
      dispatch();
      return;
    }
    if (b[off] == ':') {
      handler.onComment(utf8.decodeText(b, off + 1, len - 1));
      return;
    }
    int end = off + len;
    // The fields nearly every event has are recognised at once, without the general search.
    int colon;
    if (len >= 5 && (int) INTS.get(b, off) == DATA_AS_INT && b[off + 4] == ':') {
      int valueOffset = off + 5;
      if (valueOffset < end && b[valueOffset] == ' ') {
        valueOffset++;
      }
      appendData(b, valueOffset, end - valueOffset);
      dataAscii &= ascii;
      return;
    } else if (len >= 3 && b[off] == 'i' && b[off + 1] == 'd' && b[off + 2] == ':') {
      colon = off + 2;
    } else if (len >= 6
        && (int) INTS.get(b, off) == EVEN_AS_INT
        && b[off + 4] == 't'
        && b[off + 5] == ':') {
      colon = off + 5;
    } else {
      colon = off;
      while (colon < end && b[colon] != ':') {
        colon++;
      }
    }
    int nameLength = colon - off;
    int valueOffset = Math.min(colon + 1, end);
    if (valueOffset < end && b[valueOffset] == ' ') {
      valueOffset++;
    }
    int valueLength = end - valueOffset;
    switch (nameLength) {
      case 2 -> {
        if (is(ID, b, off, nameLength) && !containsNul(b, valueOffset, valueLength)) {
          idBuffer =
              ascii
                  ? new String(b, valueOffset, valueLength, StandardCharsets.ISO_8859_1)
                  : utf8.decodeText(b, valueOffset, valueLength);
        }
      }
      case 4 -> {
        if (is(DATA, b, off, nameLength)) {
          appendData(b, valueOffset, valueLength);
          dataAscii &= ascii;
        }
      }
      case 5 -> {
        if (is(EVENT, b, off, nameLength)) {
          eventType = eventType(b, valueOffset, valueLength);
        } else if (is(RETRY, b, off, nameLength)) {
          parseRetry(b, valueOffset, valueLength);
        }
      }
      default -> {
        // Any other field is ignored, as the standard says.
      }
    }
  }

  /**
   * Decodes an event type, reusing the previous type's string when the bytes are the same: streams
   * repeat a handful of types, and this saves a string per event.
   */
  private String eventType(byte[] b, int off, int len) {
    if (len == 0) {
      return Event.DEFAULT_TYPE;
    }
    if (len == cachedTypeBytes.length && startsWith(b, off, cachedTypeBytes)) {
      return cachedType;
    }
    String type = utf8.decodeText(b, off, len);
    if (len <= CACHED_TYPE_MAX_BYTES) {
      cachedTypeBytes = Arrays.copyOfRange(b, off, off + len);
      cachedType = type;
    }
    return type;
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
      eventType = Event.DEFAULT_TYPE;
      return;
    }
    // UTF-8 never encodes LF inside another character, so decoding the whole buffer at once equals
    // decoding line by line; the final LF is dropped, as the standard says.
    String eventData =
        dataAscii
            ? new String(data, 0, dataLength - 1, StandardCharsets.ISO_8859_1)
            : utf8.decodeText(data, 0, dataLength - 1);
    dataAscii = true;
    String type = eventType;
    if (release(data.length, dataLength)) {
      // Release what one large event grew; keep a buffer that events of this size need.
      data = new byte[INITIAL_BUFFER_BYTES];
    }
    dataLength = 0;
    eventType = Event.DEFAULT_TYPE;
    dispatched++;
    handler.onEvent(Event.parsed(type, eventData, lastEventId));
  }

  /** Whether a buffer of {@code capacity}, just used for {@code used} bytes, is to be dropped. */
  private static boolean release(int capacity, int used) {
    return capacity > MAX_RETAINED_BUFFER_BYTES
        || (capacity > SMALL_BUFFER_BYTES && used < capacity / 4);
  }

  private void discardAll() {
    lineLength = 0;
    dataLength = 0;
    dataAscii = true;
    eventType = Event.DEFAULT_TYPE;
    line = new byte[INITIAL_BUFFER_BYTES];
    data = new byte[INITIAL_BUFFER_BYTES];
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

  /** Whether {@code b} from {@code off} starts with {@code prefix} (which must fit). */
  private static boolean startsWith(byte[] b, int off, byte[] prefix) {
    for (int i = 0; i < prefix.length; i++) {
      if (b[off + i] != prefix[i]) {
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
      this.maxLineBytes = Checks.positive("maxLineBytes", maxLineBytes);
      return this;
    }

    /** The most data one event may carry, in bytes, counting one LF per data line. */
    public Builder maxEventBytes(int maxEventBytes) {
      this.maxEventBytes = Checks.positive("maxEventBytes", maxEventBytes);
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
