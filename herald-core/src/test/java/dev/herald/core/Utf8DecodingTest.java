package dev.herald.core;

import static dev.herald.core.ParserHarness.concat;
import static dev.herald.core.ParserHarness.utf8;
import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.ParserHarness.LineEnding;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * UTF-8 decoding as the WHATWG Encoding Standard's "UTF-8 decoder" defines it: one U+FFFD per
 * maximal subpart of an ill-formed sequence (the Unicode Standard's "best practice", chapter 3,
 * table 3-8). Expected strings are written out by hand from the algorithm, never computed with the
 * JDK, whose decoder differs on some of these.
 */
class Utf8DecodingTest {
  private static final String R = "\uFFFD";

  /** (hex bytes, expected text). */
  static Stream<Arguments> table() {
    return Stream.of(
        // Well-formed, one of each length and the boundaries of each range.
        row("41", "A"),
        row("7F", "\u007F"),
        row("C2 80", "\u0080"),
        row("C3 A9", "é"),
        row("DF BF", "\u07FF"),
        row("E0 A0 80", "\u0800"),
        row("E2 82 AC", "€"),
        row("ED 9F BF", "\uD7FF"),
        row("EE 80 80", "\uE000"),
        row("EF BB BF", "\uFEFF"),
        row("EF BF BF", "\uFFFF"),
        row("F0 90 80 80", "\uD800\uDC00"),
        row("F0 9F 98 80", "😀"),
        row("F4 8F BF BF", "\uDBFF\uDFFF"),
        // Unicode table 3-8: the canonical example of maximal subparts.
        row(
            "61 F1 80 80 E1 80 C2 62 80 63 80 BF 64",
            "a" + R + R + R + "b" + R + "c" + R + R + "d"),
        // Encoded surrogates: ED accepts only 80-9F next, so each byte is its own error.
        row("ED A0 80", R + R + R),
        row("ED BF BF", R + R + R),
        row("ED A0 80 ED B0 80", R.repeat(6)),
        // Overlongs: C0 and C1 never start a sequence; E0 needs A0-BF next, F0 needs 90-BF.
        row("C0 AF", R + R),
        row("C0 80", R + R),
        row("C1 BF", R + R),
        row("E0 80 AF", R + R + R),
        row("E0 9F BF", R + R + R),
        row("F0 80 80", R + R + R),
        row("F0 80 80 AF", R + R + R + R),
        row("F0 8F BF BF", R + R + R + R),
        // Beyond U+10FFFF: F4 needs 80-8F next; F5-FF never start a sequence.
        row("F4 90 80 80", R + R + R + R),
        row("F5 80 80 80", R + R + R + R),
        row("F8 88 80 80 80", R.repeat(5)),
        row("FC 84 80 80 80 80", R.repeat(6)),
        row("FE", R),
        row("FF", R),
        row("FE FF", R + R),
        // Lone and stray continuation bytes.
        row("80", R),
        row("BF", R),
        row("80 80 80", R + R + R),
        row("41 80 42", "A" + R + "B"),
        // Truncated sequences: the maximal subpart is one error, the next byte starts over.
        row("C3", R),
        row("E2 82", R),
        row("F0 9F 98", R),
        row("E2 82 41", R + "A"),
        row("F0 9F 98 41", R + "A"),
        row("C2 41", R + "A"),
        row("E2 28 A1", R + "(" + R),
        row("E1 80 E2 82 AC", R + "€"),
        row("F1 80 80 F0 9F 98 80", R + "😀"),
        row("E2 82 0A", R + "\n"),
        row("C3 00", R + "\0"),
        // A lead byte is an error where a continuation byte was expected, then starts anew.
        row("C2 C3 A9", R + "é"),
        row("E0 C3 A9", R + "é"),
        row("F0 C3 A9", R + "é"));
  }

  private static Arguments row(String hex, String expected) {
    return Arguments.of(hex, expected);
  }

  private static byte[] bytes(String hex) {
    return HexFormat.of().parseHex(hex.replace(" ", ""));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void decodesAsTheEncodingStandardSays(String hex, String expected) {
    byte[] input = bytes(hex);
    assertThat(Escape.of(Utf8.decode(input, 0, input.length))).isEqualTo(Escape.of(expected));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void decodesASliceWithoutReadingAroundIt(String hex, String expected) {
    byte[] input = bytes(hex);
    // Continuation and lead bytes on both sides would change the result if read.
    byte[] padded = concat(bytes("E2 82"), input, bytes("AC 80"));
    assertThat(Escape.of(Utf8.decode(padded, 2, input.length))).isEqualTo(Escape.of(expected));
  }

  /** Fast paths work on eight bytes at a time: sequences must decode alike at every alignment. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void decodesTheSameAtEveryPositionInLongerText(String hex, String expected) {
    byte[] input = bytes(hex);
    for (int before = 0; before <= 17; before++) {
      String head = "abcdefghijklmnopq".substring(0, before);
      String tail = "é0123456789abcdef".substring(0, 17 - before);
      byte[] text = concat(utf8(head), input, utf8(tail));
      assertThat(Escape.of(Utf8.decode(text, 0, text.length)))
          .as("after %d ASCII bytes", before)
          .isEqualTo(Escape.of(head + expected + tail));
    }
  }

  @Test
  void aReusedDecoderNeverShowsEarlierText() {
    Utf8 decoder = new Utf8();
    String[] texts = {
      "é".repeat(1000) + "x".repeat(1000),
      "é",
      "ab",
      "Crème brûlée ".repeat(10_000),
      "ß",
      "€ and é",
      "",
      "é"
    };
    for (String text : texts) {
      byte[] bytes = utf8(text);
      assertThat(decoder.decodeText(bytes, 0, bytes.length)).isEqualTo(text);
    }
  }

  /**
   * The parser decodes data, comments, types and ids like the decoder does, wherever the chunks
   * split a sequence and whatever the line end after a truncated one.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void parserDecodesEveryFieldTheSameWayAcrossEverySplit(String hex, String expected) {
    if (expected.contains("\n") || expected.contains("\0")) {
      return; // Line ends and NUL have their own meaning in fields; covered elsewhere.
    }
    byte[] value = bytes(hex);
    byte[] input =
        concat(
            utf8(":"),
            value,
            utf8("\nevent:"),
            value,
            utf8("\nid:"),
            value,
            utf8("\ndata:"),
            value,
            utf8("\ndata:"),
            value,
            utf8("\n\n"));
    String type = expected.isEmpty() ? Event.DEFAULT_TYPE : expected;
    StreamCase streamCase =
        StreamCase.stream("fields of " + hex, input)
            .expect(cm(expected), Recorder.ev(type, expected + "\n" + expected, expected))
            .lastEventId(expected);
    for (LineEnding ending : new LineEnding[] {LineEnding.LF, LineEnding.CR, LineEnding.CRLF}) {
      streamCase.assertParses(ending);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void parserKeepsEachLinesErrorsToThatLine(String hex, String expected) {
    if (expected.contains("\n") || expected.contains("\0")) {
      return;
    }
    // A truncated sequence at the end of one data line must not swallow the next line's bytes.
    byte[] input = concat(utf8("data:"), bytes(hex), utf8("\ndata:é\n\n"));
    StreamCase.stream("line after " + hex, input)
        .expect(ev(expected + "\né"))
        .assertParses(LineEnding.CRLF);
  }
}
