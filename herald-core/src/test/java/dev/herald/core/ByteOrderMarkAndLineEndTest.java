package dev.herald.core;

import static dev.herald.core.ParserHarness.concat;
import static dev.herald.core.ParserHarness.raw;
import static dev.herald.core.ParserHarness.utf8;
import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.StreamCase.stream;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.ParserHarness.LineEnding;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The byte order mark at stream start, and every kind of line end wherever the chunks split. */
class ByteOrderMarkAndLineEndTest {
  private static final byte[] BOM = raw(0xEF, 0xBB, 0xBF);

  static Stream<Arguments> byteOrderMarks() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("one BOM at stream start is stripped", concat(BOM, utf8("data:x\n\n")))
                .expect(ev("x")),
            stream("a BOM before a comment is stripped", concat(BOM, utf8(":c\n"))).expect(cm("c")),
            stream("a BOM alone, then events", concat(BOM, utf8("\ndata:x\n\n"))).expect(ev("x")),
            stream("a second BOM is not stripped", concat(BOM, BOM, utf8("data:x\n\n"))).expect(),
            stream(
                    "a BOM later in the stream is not stripped",
                    concat(utf8("\n"), BOM, utf8("data:x\n\ndata:y\n\n")))
                .expect(ev("y")),
            stream(
                    "a BOM at the start of a later line is not stripped",
                    concat(utf8("data:a\n\n"), BOM, utf8("data:x\n\n")))
                .expect(ev("a")),
            stream("a BOM inside data is kept", concat(utf8("data:"), BOM, utf8("x\n\n")))
                .expect(ev("\uFEFFx")),
            stream(
                    "half a BOM turns a comment into an unknown field",
                    concat(raw(0xEF, 0xBB), utf8(":c\n")))
                .expect(),
            stream(
                    "half a BOM spoils the first field name",
                    concat(raw(0xEF, 0xBB), utf8("data:x\n\ndata:y\n\n")))
                .expect(ev("y")),
            stream("a BOM's first byte then a line end", concat(raw(0xEF), utf8("\ndata:y\n\n")))
                .expect(ev("y"))));
  }

  static Stream<Arguments> lineEnds() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("CRLF is one line end", "data:a\r\ndata:b\r\n\r\n").expect(ev("a\nb")),
            stream("LF CR is two line ends", "data:a\n\rdata:b\n\n").expect(ev("a"), ev("b")),
            stream("CR CR is two line ends", "data:a\r\rdata:b\r\r").expect(ev("a"), ev("b")),
            stream("CR CR LF is two line ends", "data:a\r\r\ndata:b\r\r\n")
                .expect(ev("a"), ev("b")),
            stream("mixed line ends in one event", "data:a\rdata:b\ndata:c\r\ndata:d\r\n\r")
                .expect(ev("a\nb\nc\nd")),
            stream("a CR as the last byte of the stream ends the event", "data:x\n\r")
                .expect(ev("x")),
            stream("a CR as the last byte after a CR", "data:x\r\r").expect(ev("x")),
            stream("CR LF LF is a blank line after a CRLF", "data:x\r\n\ndata:y\r\n\n")
                .expect(ev("x"), ev("y")),
            stream("a lone CR ends a comment", ":a\r:b\r\n:c\n")
                .expect(cm("a"), cm("b"), cm("c"))));
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("byteOrderMarks")
  void stripsOneByteOrderMarkAtStreamStartOnly(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("lineEnds")
  void acceptsEveryLineEndAcrossEverySplit(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @Test
  void dispatchesOnAFinalCrWithoutWaitingForMoreBytes() {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    parser.feed(utf8("data:x\r\r"));
    assertThat(recorder.events()).containsExactly(ev("x"));
    // The LF that completes the CRLF is not a second blank line.
    parser.feed(utf8("\n"));
    assertThat(recorder.events()).containsExactly(ev("x"));
    parser.feed(utf8("data:y\n\n"));
    assertThat(recorder.events()).containsExactly(ev("x"), ev("y"));
  }

  @Test
  void treatsCrAtChunkEndAndLfAtNextChunkStartAsOneLineEnd() {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    for (String chunk : new String[] {"data:a\r", "\ndata:b\r", "\n\r", "\n", "\r", "\n"}) {
      parser.feed(utf8(chunk));
    }
    assertThat(recorder.seen).containsExactly(ev("a\nb"));
  }

  @Test
  void stripsAByteOrderMarkDeliveredOneByteAtATime() {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    parser.feed(raw(0xEF));
    parser.feed(new byte[0]);
    parser.feed(raw(0xBB));
    parser.feed(raw(0xBF));
    parser.feed(utf8("data:x\n\n"));
    parser.feed(BOM);
    parser.feed(utf8("data:y\n\ndata:z\n\n"));
    assertThat(recorder.seen).containsExactly(ev("x"), ev("z"));
  }
}
