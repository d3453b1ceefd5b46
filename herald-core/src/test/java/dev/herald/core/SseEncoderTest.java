package dev.herald.core;

import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.Recorder.rt;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SseEncoderTest {

  private static String wire(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  /** (data, exact frame). */
  static Stream<Arguments> data() {
    return Stream.of(
        Arguments.of("x", "data: x\n\n"),
        Arguments.of("", "data:\n\n"),
        Arguments.of("a\nb", "data: a\ndata: b\n\n"),
        Arguments.of("a\rb", "data: a\ndata: b\n\n"),
        Arguments.of("a\r\nb", "data: a\ndata: b\n\n"),
        Arguments.of("a\n\rb", "data: a\ndata:\ndata: b\n\n"),
        Arguments.of("a\r\rb", "data: a\ndata:\ndata: b\n\n"),
        Arguments.of("a\n\nb", "data: a\ndata:\ndata: b\n\n"),
        Arguments.of("a\n", "data: a\ndata:\n\n"),
        Arguments.of("a\r\n", "data: a\ndata:\n\n"),
        Arguments.of("\n", "data:\ndata:\n\n"),
        Arguments.of("\r\n\r\n", "data:\ndata:\ndata:\n\n"),
        Arguments.of("\na", "data:\ndata: a\n\n"),
        Arguments.of(" x", "data:  x\n\n"),
        Arguments.of("x ", "data: x \n\n"),
        Arguments.of(":x", "data: :x\n\n"),
        Arguments.of(
            "x\n\nevent: admin\nid: 666", "data: x\ndata:\ndata: event: admin\ndata: id: 666\n\n"),
        Arguments.of("é€😀", "data: é€😀\n\n"),
        Arguments.of("a\0b", "data: a\0b\n\n"),
        Arguments.of("line\u2028sep\u0085nel", "data: line\u2028sep\u0085nel\n\n"));
  }

  @ParameterizedTest(name = "{index}: {1}")
  @MethodSource("data")
  void writesOneDataLinePerLineOfData(String data, String frame) {
    assertThat(wire(SseEncoder.encode(Event.of(data)))).isEqualTo(frame);
  }

  @ParameterizedTest(name = "{index}: {1}")
  @MethodSource("data")
  void dataRoundTripsWithLineBreaksNormalisedToLf(String data, String frame) {
    String normalised = data.replace("\r\n", "\n").replace('\r', '\n');
    assertThat(ParserHarness.parse(SseEncoder.encode(Event.of(data))).seen())
        .containsExactly(ev(normalised));
  }

  /** (comment text, exact lines). */
  static Stream<Arguments> comments() {
    return Stream.of(
        Arguments.of("", ":\n"),
        Arguments.of("hi", ":hi\n"),
        Arguments.of(" hi", ": hi\n"),
        Arguments.of("a\nb", ":a\n:b\n"),
        Arguments.of("a\r\nb\rc", ":a\n:b\n:c\n"),
        Arguments.of("a\n", ":a\n:\n"),
        Arguments.of("\n\ndata: injected", ":\n:\n:data: injected\n"));
  }

  @ParameterizedTest(name = "{index}: {1}")
  @MethodSource("comments")
  void writesOneCommentLinePerLineOfText(String text, String lines) {
    byte[] encoded = SseEncoder.encode(new Comment(text));
    assertThat(wire(encoded)).isEqualTo(lines);
    // Whatever the text, a comment never dispatches anything; each line comes back verbatim.
    Recorder.Seen[] expected =
        Stream.of(text.split("\r\n|\r|\n", -1)).map(Recorder::cm).toArray(Recorder.Seen[]::new);
    assertThat(ParserHarness.parse(ParserHarness.concat(encoded, "\n".getBytes())).seen())
        .containsExactly(expected);
  }

  @Test
  void writesIdTypeRetryThenDataAndOmitsTheDefaultType() {
    Event full =
        Event.builder().id("7").type("price").retry(Duration.ofMillis(5)).data("d").build();
    assertThat(wire(SseEncoder.encode(full)))
        .isEqualTo("id: 7\nevent: price\nretry: 5\ndata: d\n\n");
    assertThat(wire(SseEncoder.encode(Event.of("message", "d")))).isEqualTo("data: d\n\n");
    assertThat(wire(SseEncoder.encode(Event.builder().id("").data("d").build())))
        .isEqualTo("id:\ndata: d\n\n");
    assertThat(wire(SseEncoder.encode(Event.builder().id(" 7").type(" t").data("d").build())))
        .isEqualTo("id:  7\nevent:  t\ndata: d\n\n");
  }

  @Test
  void fieldValuesStartingWithASpaceSurviveTheRoundTrip() {
    byte[] frame = SseEncoder.encode(Event.builder().id(" 7").type(" t").data(" d").build());
    ParserHarness.Outcome outcome = ParserHarness.parse(frame);
    assertThat(outcome.seen()).containsExactly(ev(" t", " d", " 7"));
    assertThat(outcome.lastEventId()).isEqualTo(" 7");
  }

  @Test
  void anEmptyIdResetsTheReceiversLastEventId() {
    byte[] frame = SseEncoder.encode(Event.builder().id("").data("d").build());
    ParserHarness.Outcome outcome = ParserHarness.parse(frame, "41");
    assertThat(outcome.seen()).containsExactly(ev("d"));
    assertThat(outcome.lastEventId()).isEmpty();
  }

  /** (duration, wire millis). */
  static Stream<Arguments> retries() {
    return Stream.of(
        Arguments.of(Duration.ZERO, 0L),
        Arguments.of(Duration.ofMillis(1500), 1500L),
        Arguments.of(Duration.ofSeconds(3), 3000L),
        Arguments.of(Duration.ofNanos(1_999_999), 1L),
        Arguments.of(Duration.ofNanos(999_999), 0L),
        Arguments.of(Duration.ofMillis(Long.MAX_VALUE), Long.MAX_VALUE),
        Arguments.of(Duration.ofSeconds(Long.MAX_VALUE), Long.MAX_VALUE));
  }

  @ParameterizedTest(name = "{0} -> retry: {1}")
  @MethodSource("retries")
  void writesRetryInWholeMilliseconds(Duration retry, long millis) {
    byte[] frame = SseEncoder.encode(Event.builder().retry(retry).data("d").build());
    assertThat(wire(frame)).isEqualTo("retry: " + millis + "\ndata: d\n\n");
    assertThat(ParserHarness.parse(frame).seen()).containsExactly(rt(millis), ev("d"));
  }

  @Test
  void writesUtf8() {
    byte[] frame = SseEncoder.encode(Event.builder().id("ü").type("ß").data("é€😀").build());
    assertThat(frame).isEqualTo("id: ü\nevent: ß\ndata: é€😀\n\n".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void writesUnpairedSurrogatesAsQuestionMarks() {
    byte[] frame = SseEncoder.encode(Event.of("a\uD800b\uDC00"));
    assertThat(wire(frame)).isEqualTo("data: a?b?\n\n");
  }

  @Test
  void encodedBytesAreACompleteFrameThatCanBeWrittenManyTimes() {
    Event event = Event.builder().id("9").type("t").data("a\nb").build();
    byte[] frame = SseEncoder.encode(event);
    assertThat(wire(frame)).endsWith("\n\n");
    byte[] thrice = ParserHarness.concat(frame, frame, frame);
    assertThat(ParserHarness.parse(thrice).seen())
        .containsExactly(ev("t", "a\nb", "9"), ev("t", "a\nb", "9"), ev("t", "a\nb", "9"));
  }

  @Test
  void everyEncodingIsAFreshArraySoOneWriterCannotSpoilAnother() {
    Event event = Event.of("x");
    byte[] first = SseEncoder.encode(event);
    first[0] = 'X';
    assertThat(wire(SseEncoder.encode(event))).isEqualTo("data: x\n\n");
    byte[] heartbeat = SseEncoder.encode(Comment.EMPTY);
    heartbeat[0] = 'X';
    assertThat(wire(SseEncoder.encode(Comment.EMPTY))).isEqualTo(":\n");
    assertThat(ParserHarness.parse(SseEncoder.encode(Comment.EMPTY)).seen())
        .containsExactly(cm(""));
  }

  @Test
  void encodesLongDataWithoutLosingAnything() {
    String line = "0123456789".repeat(100_000);
    String data = line + "\n" + line + "\r\n" + "é".repeat(50_000);
    byte[] frame = SseEncoder.encode(Event.of(data));
    assertThat(ParserHarness.parse(frame).seen())
        .containsExactly(ev(line + "\n" + line + "\n" + "é".repeat(50_000)));
  }
}
