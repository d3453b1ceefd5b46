package dev.herald.core;

import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.Recorder.rt;
import static dev.herald.core.StreamCase.stream;

import dev.herald.core.ParserHarness.LineEnding;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every rule of the standard's "event stream interpretation", one stream per rule, each fed in
 * every way the harness knows under every line ending.
 */
class FieldRulesTest {

  static Stream<Arguments> lines() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("a line without a colon is a field name with an empty value", "data\n\n")
                .expect(ev("")),
            stream("a line without a colon names the event field", "event\ndata:x\n\n")
                .expect(ev("x")),
            stream("only the first colon separates name from value", "data:a:b\n\n")
                .expect(ev("a:b")),
            stream("the first colon also splits event values", "event:a:b\ndata:x\n\n")
                .expect(ev("a:b", "x", "")),
            stream("one leading space is stripped", "data: x\n\n").expect(ev("x")),
            stream("only one leading space is stripped", "data:  two\n\n").expect(ev(" two")),
            stream("a value of one space is empty", "data: \n\n").expect(ev("")),
            stream("a tab is not stripped", "data:\tx\n\n").expect(ev("\tx")),
            stream("trailing spaces are kept", "data:x  \n\n").expect(ev("x  ")),
            stream("a space before the colon belongs to the name", "data :x\n\n").expect(),
            stream("a leading space belongs to the name", " data:x\n\n").expect(),
            stream("field names are case-sensitive", "DATA:x\n\nData:y\n\n").expect(),
            stream("unknown fields are ignored", "foo:bar\ndata:x\nbaz\nidx:1\nretry2:5\n\n")
                .expect(ev("x")),
            stream(
                    "names close to known ones are unknown",
                    "dat:1\ndatum:2\ndata_:3\nDatA:4\ni:5\nidd:6\nId:7\neven:8\nevents:9\nevent_:10\n"
                        + "retr:11\nretryy:12\ndata:x\n\n")
                .expect(ev("x")),
            stream("a block of unknown fields dispatches nothing", "foo:bar\n\n").expect()));
  }

  static Stream<Arguments> data() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("data lines are joined with LF", "data:a\ndata:b\ndata:c\n\n")
                .expect(ev("a\nb\nc")),
            stream("data keeps colons, NUL and non-ASCII", "data:a:\0:é€😀\n\n")
                .expect(ev("a:\0:é€😀")),
            stream(
                    "ASCII and non-ASCII data lines mix",
                    "data:plain\ndata:é€😀\ndata:plain again\n\ndata:plain only\n\n")
                .expect(ev("plain\né€😀\nplain again"), ev("plain only")),
            stream("only the one trailing LF is removed", "data:a\ndata:\n\n").expect(ev("a\n")),
            stream("two empty data lines are one LF", "data:\ndata:\n\n").expect(ev("\n")),
            stream("extra blank lines dispatch nothing more", "\n\ndata:x\n\n\n\n").expect(ev("x")),
            stream("an event with no data dispatches nothing", "event:foo\nid:3\n\n")
                .expect()
                .lastEventId("3"),
            stream("the type defaults to message", "data:x\n\n").expect(ev("message", "x", "")),
            stream("the last event field wins", "event:a\nevent:b\ndata:x\n\n")
                .expect(ev("b", "x", "")),
            stream("the type resets after each event", "event:a\ndata:x\n\ndata:y\n\n")
                .expect(ev("a", "x", ""), ev("y")),
            stream("the type resets after a block without data", "event:a\n\ndata:y\n\n")
                .expect(ev("y")),
            stream(
                    "each event gets its own type, however alike the types are",
                    "event:a\ndata:1\n\nevent:ab\ndata:2\n\nevent:a\ndata:3\n\nevent:b\ndata:4\n\n"
                        + "event:A\ndata:5\n\ndata:6\n\nevent:é\ndata:7\n\nevent:è\ndata:8\n\n")
                .expect(
                    ev("a", "1", ""),
                    ev("ab", "2", ""),
                    ev("a", "3", ""),
                    ev("b", "4", ""),
                    ev("A", "5", ""),
                    ev("6"),
                    ev("é", "7", ""),
                    ev("è", "8", "")),
            stream("an empty event field means message", "event:\ndata:x\n\n").expect(ev("x")),
            stream("an event field may name the type message", "event:message\ndata:x\n\n")
                .expect(ev("x")),
            stream("a type keeps a second leading space", "event:  sp\ndata:x\n\n")
                .expect(ev(" sp", "x", "")),
            stream("an unterminated event is discarded", "data:a\n\ndata:b\n").expect(ev("a")),
            stream("a last line without line end is discarded", "data:a\n\ndata:b")
                .expect(ev("a"))));
  }

  static Stream<Arguments> ids() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("an id applies to its own event", "data:x\nid:9\n\n")
                .expect(ev("message", "x", "9"))
                .lastEventId("9"),
            stream("the id carries over to later events", "id:1\ndata:a\n\ndata:b\n\n")
                .expect(ev("message", "a", "1"), ev("message", "b", "1"))
                .lastEventId("1"),
            stream("the last id field in a block wins", "id:1\nid:2\ndata:x\n\n")
                .expect(ev("message", "x", "2"))
                .lastEventId("2"),
            stream("an id with NUL is ignored", "id:1\n\nid:a\0b\ndata:x\n\n")
                .expect(ev("message", "x", "1"))
                .lastEventId("1"),
            stream("an id of only NUL is ignored", "id:1\n\nid:\0\ndata:x\n\n")
                .expect(ev("message", "x", "1"))
                .lastEventId("1"),
            stream("an empty id resets", "id:1\ndata:a\n\nid:\ndata:b\n\n")
                .expect(ev("message", "a", "1"), ev("message", "b", ""))
                .lastEventId(""),
            stream("an id line without colon resets", "id:1\ndata:a\n\nid\ndata:b\n\n")
                .expect(ev("message", "a", "1"), ev("message", "b", ""))
                .lastEventId(""),
            stream("an id keeps its other spaces", "id:  1 \ndata:a\n\n")
                .expect(ev("message", "a", " 1 "))
                .lastEventId(" 1 "),
            stream("the last event ID is updated by a block without data", "id:5\n\n")
                .expect()
                .lastEventId("5"),
            stream("an id-only block sets the id of later events", "id:5\n\ndata:x\n\n")
                .expect(ev("message", "x", "5"))
                .lastEventId("5"),
            stream("an id in a cut-off event does not count", "data:a\n\nid:2\ndata:b\n")
                .expect(ev("a"))
                .lastEventId(""),
            stream("an id in a cut-off event keeps the previous one", "id:1\n\nid:2\n")
                .lastEventId("1"),
            stream("the starting last event ID carries over", "data:x\n\n")
                .startingFrom("41")
                .expect(ev("message", "x", "41"))
                .lastEventId("41"),
            stream("the starting last event ID is kept without events", ":hi\n")
                .startingFrom("41")
                .expect(cm("hi"))
                .lastEventId("41"),
            stream("the starting last event ID can be reset", "id\n\n")
                .startingFrom("41")
                .lastEventId("")));
  }

  static Stream<Arguments> retries() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("retry sets the reconnection time", "retry:1500\n").expect(rt(1500)),
            stream("retry after the stripped space", "retry: 300\n").expect(rt(300)),
            stream("retry is decimal, not octal", "retry:02000\n").expect(rt(2000)),
            stream("retry zero", "retry:0\n").expect(rt(0)),
            stream("retry does not dispatch", "retry:5\n\n").expect(rt(5)),
            stream("retry is reported at once, before the event", "data:x\nretry:7\n\n")
                .expect(rt(7), ev("x")),
            stream("retry beyond a long saturates", "retry:99999999999999999999999\n")
                .expect(rt(Long.MAX_VALUE)),
            stream("retry of Long.MAX_VALUE", "retry:9223372036854775807\n")
                .expect(rt(Long.MAX_VALUE)),
            stream("retry one past Long.MAX_VALUE saturates", "retry:9223372036854775808\n")
                .expect(rt(Long.MAX_VALUE)),
            stream("an empty retry is ignored", "retry:\ndata:x\n\n").expect(ev("x")),
            stream("a retry line without colon is ignored", "retry\ndata:x\n\n").expect(ev("x"))));
  }

  static Stream<Arguments> callbacks() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("an empty comment", ":\n").expect(cm("")),
            stream("comment text is verbatim, leading space included", ": hi there \n")
                .expect(cm(" hi there ")),
            stream("a comment may contain colons and NUL", "::a:\0\n").expect(cm(":a:\0")),
            stream("a comment is decoded as UTF-8", ":héllo 😀\n").expect(cm("héllo 😀")),
            stream("a comment inside an event does not break it", "data:a\n:c\ndata:b\n\n")
                .expect(cm("c"), ev("a\nb")),
            stream("callbacks arrive in stream order", "retry:1\n:c\ndata:x\n\n:d\nretry:2\n")
                .expect(rt(1), cm("c"), ev("x"), cm("d"), rt(2))));
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("lines")
  void splitsLinesIntoFieldsAsTheStandardSays(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("data")
  void buildsAndDispatchesEventsAsTheStandardSays(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("ids")
  void tracksTheLastEventIdAsTheStandardSays(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("retries")
  void reportsReconnectionTimes(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("callbacks")
  void reportsCommentsVerbatimAndInOrder(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }

  /**
   * Values that are not "only ASCII digits" once the one space after the colon is stripped. Several
   * are accepted by {@code Integer.parseInt} or {@code Long.parseLong} (signs, Arabic-Indic and
   * fullwidth digits), which is why a parser that leans on them is wrong.
   */
  @ParameterizedTest(name = "retry: {0}")
  @ValueSource(
      strings = {
        "+300", "-1", " 300", "300 ", "3.5", "1e3", "0x10", "30O", "٣٠٠", "۳۰۰", "३००", "３００",
        "1_000", "1,000", "\u0000"
      })
  void ignoresRetryValuesThatAreNotAllAsciiDigits(String value) {
    StreamCase c =
        stream("retry: " + value, "retry:1\nretry: " + value + "\ndata:x\n\n")
            .expect(rt(1), ev("x"));
    for (LineEnding ending : new LineEnding[] {LineEnding.LF, LineEnding.CR, LineEnding.CRLF}) {
      c.assertParses(ending);
    }
  }
}
