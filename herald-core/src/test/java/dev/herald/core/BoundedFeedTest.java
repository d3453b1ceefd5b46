package dev.herald.core;

import static dev.herald.core.ParserHarness.concat;
import static dev.herald.core.ParserHarness.utf8;
import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.Recorder.rt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.herald.core.Recorder.Ev;
import dev.herald.core.Recorder.Seen;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link SseParser#feed(ByteBuffer, int)}: parsing that stops after a number of events, for
 * consumers with bounded demand. Whatever the stops and the splits, it reports what an unbounded
 * parse reports, never more events per call than allowed, and leaves the position right after the
 * line that completed the last one.
 */
class BoundedFeedTest {
  /** How the bytes are wrapped: the heap path parses in place, the others through a copy. */
  enum Wrap {
    /** A heap buffer sliced out of a larger array, so its array offset is not zero. */
    HEAP {
      @Override
      ByteBuffer wrap(byte[] bytes) {
        byte[] padded = new byte[bytes.length + 6];
        Arrays.fill(padded, (byte) '\n');
        System.arraycopy(bytes, 0, padded, 3, bytes.length);
        return ByteBuffer.wrap(padded, 3, bytes.length).slice();
      }
    },
    DIRECT {
      @Override
      ByteBuffer wrap(byte[] bytes) {
        return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
      }
    },
    READ_ONLY {
      @Override
      ByteBuffer wrap(byte[] bytes) {
        return ByteBuffer.wrap(bytes.clone()).asReadOnlyBuffer();
      }
    };

    abstract ByteBuffer wrap(byte[] bytes);
  }

  /**
   * Every kind of line and line end: a BOM, comments, retry, an id-only block, multi-line and
   * non-ASCII data, CR, LF and CRLF (a CRLF split across a stop), an event without data, and an
   * unterminated event at the end that must never be dispatched.
   */
  private static final byte[] STREAM =
      concat(
          new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
          utf8(
              ": hello\n"
                  + "retry: 250\n"
                  + "id: 1\nevent: price\ndata: {\"eur\": 1.08}\n\n"
                  + "data: a\r\ndata: b\r\n\r\n"
                  + "id: 2\n\n"
                  + "data: é€😀\r\r"
                  + "event: empty\n\n"
                  + ": between\r\n"
                  + "data:\n\n"
                  + "data: x\n\ndata: y\n\ndata: z\r\n\r\n"
                  + "id: 3\ndata: cut off"));

  private static final List<Seen> EXPECTED =
      List.of(
          cm(" hello"),
          rt(250),
          ev("price", "{\"eur\": 1.08}", "1"),
          ev("message", "a\nb", "1"),
          ev("message", "é€😀", "2"),
          cm(" between"),
          ev("message", "", "2"),
          ev("message", "x", "2"),
          ev("message", "y", "2"),
          ev("message", "z", "2"));

  @Test
  void theReferenceIsWhatAnUnboundedParseReports() {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    parser.feed(STREAM);
    assertThat(recorder.seen).isEqualTo(EXPECTED);
    assertThat(parser.lastEventId()).isEqualTo("2");
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void everySplitAndEveryBoundReportWhatAnUnboundedParseReports(Wrap wrap) {
    for (int maxEvents : new int[] {1, 2, 3, 7, Integer.MAX_VALUE}) {
      for (int split = 0; split <= STREAM.length; split++) {
        List<byte[]> chunks =
            List.of(
                Arrays.copyOfRange(STREAM, 0, split),
                Arrays.copyOfRange(STREAM, split, STREAM.length));
        String how = "max " + maxEvents + ", split at " + split + ", " + wrap;
        assertBoundedParse(chunks, wrap, maxEvents, how);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void byteByByteWithOneEventAtATime(Wrap wrap) {
    List<byte[]> chunks = new ArrayList<>();
    for (byte b : STREAM) {
      chunks.add(new byte[] {b});
    }
    assertBoundedParse(chunks, wrap, 1, "byte by byte, " + wrap);
  }

  /**
   * Feeds each chunk with calls of at most {@code maxEvents}, until it is used up, checking every
   * call's contract, and then the whole outcome against the unbounded parse.
   */
  private static void assertBoundedParse(
      List<byte[]> chunks, Wrap wrap, int maxEvents, String how) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    for (byte[] chunk : chunks) {
      ByteBuffer buffer = wrap.wrap(chunk);
      int calls = 0;
      do {
        int before = recorder.events().size();
        int start = buffer.position();
        int dispatched = parser.feed(buffer, maxEvents);
        int events = recorder.events().size() - before;
        assertThat(dispatched).as("%s: returns the events dispatched", how).isEqualTo(events);
        assertThat(dispatched)
            .as("%s: never more than allowed", how)
            .isLessThanOrEqualTo(maxEvents);
        if (dispatched < maxEvents) {
          assertThat(buffer.hasRemaining()).as("%s: fewer events only at the end", how).isFalse();
        } else {
          assertThat(recorder.seen.get(recorder.seen.size() - 1))
              .as("%s: stops right after the event", how)
              .isInstanceOf(Ev.class);
          int end = buffer.position() - 1;
          byte last = buffer.get(end);
          assertThat(last == '\n' || last == '\r')
              .as("%s: stops right after a line end, at %d", how, end)
              .isTrue();
          assertThat(end).as("%s: parsed something", how).isGreaterThanOrEqualTo(start);
        }
        assertThat(++calls).as("%s: makes progress", how).isLessThanOrEqualTo(chunk.length + 1);
      } while (buffer.hasRemaining());
    }
    assertThat(recorder.seen).as(how).isEqualTo(EXPECTED);
    assertThat(parser.lastEventId()).as(how).isEqualTo("2");
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void dispatchesExactlyTheNumberAskedForAndLeavesTheRest(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    byte[] three = utf8("id: 1\ndata: one\n\ndata: two\n\nid: 3\ndata: three\n\n");
    ByteBuffer buffer = wrap.wrap(three);
    int start = buffer.position();

    assertThat(parser.feed(buffer, 2)).isEqualTo(2);
    assertThat(recorder.seen).containsExactly(ev("message", "one", "1"), ev("message", "two", "1"));
    assertThat(buffer.position() - start).isEqualTo("id: 1\ndata: one\n\ndata: two\n\n".length());
    assertThat(parser.lastEventId())
        .as("the id of the third event is not parsed yet")
        .isEqualTo("1");

    assertThat(parser.feed(buffer, 5)).isEqualTo(1);
    assertThat(recorder.events()).last().isEqualTo(ev("message", "three", "3"));
    assertThat(buffer.hasRemaining()).isFalse();
    assertThat(parser.lastEventId()).isEqualTo("3");
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void commentsRetriesAndBlocksWithoutDataDoNotCount(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    ByteBuffer buffer =
        wrap.wrap(utf8(": c\nretry: 5\nid: 7\n\nevent: nothing\n\ndata: x\n\n: after\n"));

    assertThat(parser.feed(buffer, 1)).isEqualTo(1);
    assertThat(recorder.seen).containsExactly(cm(" c"), rt(5), ev("message", "x", "7"));
    assertThat(buffer.remaining()).isEqualTo(": after\n".length());
    assertThat(parser.feed(buffer, 1)).isZero();
    assertThat(recorder.seen).last().isEqualTo(cm(" after"));
    assertThat(buffer.hasRemaining()).isFalse();
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void aPartialEventIsKeptAcrossCallsAndNotCounted(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    ByteBuffer first = wrap.wrap(utf8("data: hel"));
    assertThat(parser.feed(first, 1)).isZero();
    assertThat(first.hasRemaining()).isFalse();
    ByteBuffer second = wrap.wrap(utf8("lo\n\ndata: next\n\n"));
    assertThat(parser.feed(second, 1)).isEqualTo(1);
    assertThat(recorder.seen).containsExactly(ev("hello"));
    assertThat(second.remaining()).isEqualTo("data: next\n\n".length());
  }

  /** Direct buffers are copied in 8 KiB pieces: a stop inside a piece gives the rest back. */
  @Test
  void aDirectBufferLargerThanTheCopyBufferStopsAndResumesExactly() {
    StringBuilder stream = new StringBuilder();
    List<Seen> expected = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      String data = "event number " + i + " " + "x".repeat(i % 37);
      stream.append("data: ").append(data).append(i % 3 == 0 ? "\r\n\r\n" : "\n\n");
      expected.add(ev(data));
    }
    byte[] bytes = utf8(stream.toString());
    assertThat(bytes.length).isGreaterThan(3 * 8192);
    for (int maxEvents : new int[] {1, 10, 333, 1999, 5000}) {
      Recorder recorder = new Recorder();
      SseParser parser = SseParser.create(recorder);
      ByteBuffer buffer = Wrap.DIRECT.wrap(bytes);
      int total = 0;
      int calls = 0;
      while (buffer.hasRemaining()) {
        int dispatched = parser.feed(buffer, maxEvents);
        assertThat(dispatched).isLessThanOrEqualTo(maxEvents);
        assertThat(recorder.events()).hasSize(total + dispatched);
        total += dispatched;
        assertThat(++calls).isLessThanOrEqualTo(2001);
      }
      assertThat(recorder.seen).as("max %d", maxEvents).isEqualTo(expected);
    }
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void refusesANonPositiveBoundWithoutParsing(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    ByteBuffer buffer = wrap.wrap(utf8("data: a\n\n"));
    int start = buffer.position();
    for (int bad : new int[] {0, -1, Integer.MIN_VALUE}) {
      assertThatThrownBy(() -> parser.feed(buffer, bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("maxEvents must be positive: " + bad);
    }
    assertThat(buffer.position()).isEqualTo(start);
    assertThat(recorder.seen).isEmpty();
    assertThat(parser.feed(buffer, 1)).isEqualTo(1);
    assertThat(recorder.seen).containsExactly(ev("a"));
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void limitsApplyToWhatIsParsedAndNotToWhatIsLeft(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.builder().maxLineBytes(32).maxEventBytes(16).build(recorder);
    ByteBuffer buffer = wrap.wrap(utf8("data: ok\n\ndata: " + "x".repeat(20) + "\n\n"));

    assertThat(parser.feed(buffer, 1)).isEqualTo(1);
    assertThat(recorder.seen).containsExactly(ev("ok"));

    SseLimitExceededException e =
        catchThrowableOfType(() -> parser.feed(buffer, 1), SseLimitExceededException.class);
    assertThat(e).isNotNull();
    assertThat(e.limit()).isEqualTo("maxEventBytes");
    assertThat(e.max()).isEqualTo(16);
    assertThat(recorder.seen).as("nothing more dispatched").containsExactly(ev("ok"));
  }

  @ParameterizedTest
  @EnumSource(Wrap.class)
  void aLineOverTheLimitFailsABoundedFeed(Wrap wrap) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.builder().maxLineBytes(16).build(recorder);
    ByteBuffer buffer = wrap.wrap(utf8(": " + "c".repeat(30) + "\ndata: a\n\n"));

    SseLimitExceededException e =
        catchThrowableOfType(() -> parser.feed(buffer, 1), SseLimitExceededException.class);
    assertThat(e).isNotNull();
    assertThat(e.limit()).isEqualTo("maxLineBytes");
    assertThat(e.max()).isEqualTo(16);
    assertThat(e).hasMessageContaining("maxLineBytes");
    assertThat(recorder.seen).isEmpty();
  }
}
