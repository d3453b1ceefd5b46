package dev.herald.core;

import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.StreamCase.stream;

import dev.herald.core.ParserHarness.LineEnding;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The example streams of the WHATWG HTML standard, section "Server-sent events". */
class SpecExamplesTest {
  static Stream<Arguments> examples() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream(
                    "introduction: three messages",
                    "data: This is the first message.\n\n"
                        + "data: This is the second message, it\ndata: has two lines.\n\n"
                        + "data: This is the third message.\n\n")
                .expect(
                    ev("This is the first message."),
                    ev("This is the second message, it\nhas two lines."),
                    ev("This is the third message.")),
            stream(
                    "introduction: add and remove event types",
                    "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"
                        + "event: add\ndata: 113411\n\n")
                .expect(
                    ev("add", "73857293", ""), ev("remove", "2153", ""), ev("add", "113411", "")),
            stream("stock ticker", "data: YHOO\ndata: +2\ndata: 10\n\n").expect(ev("YHOO\n+2\n10")),
            stream(
                    "four blocks: comment, id 1, id reset, one kept space",
                    ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
                        + "data:  third event\n\n")
                .expect(
                    cm(" test stream"),
                    ev("message", "first event", "1"),
                    ev("message", "second event", ""),
                    ev("message", " third event", ""))
                .lastEventId(""),
            stream(
                    "four blocks without the final blank line",
                    "data: first event\nid: 1\n\n" + "data:  third event\n")
                .expect(ev("message", "first event", "1"))
                .lastEventId("1"),
            stream(
                    "empty data, a lone newline, and an unterminated block",
                    "data\n\ndata\ndata\n\ndata:")
                .expect(ev(""), ev("\n")),
            stream("two identical events", "data:test\n\ndata: test\n\n")
                .expect(ev("test"), ev("test"))));
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("examples")
  void parsesAsTheStandardSays(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }
}
