package dev.herald.core;

import dev.herald.core.ParserHarness.LineEnding;
import dev.herald.core.Recorder.Seen;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * One event stream and what a conforming parser reports for it. A stream written with LF only (no
 * CR anywhere) is line-ending agnostic and is also run rewritten with CR and with CRLF.
 */
final class StreamCase {
  final String name;
  final byte[] input;
  private final List<Seen> expected = new ArrayList<>();
  private String initialLastEventId = "";
  private String lastEventId = "";

  private StreamCase(String name, byte[] input) {
    this.name = name;
    this.input = input;
  }

  static StreamCase stream(String name, String input) {
    return new StreamCase(name, input.getBytes(StandardCharsets.UTF_8));
  }

  static StreamCase stream(String name, byte[] input) {
    return new StreamCase(name, input);
  }

  /** What the parser must report, in order. */
  StreamCase expect(Seen... seen) {
    expected.addAll(List.of(seen));
    return this;
  }

  /** The parser's last event ID once the whole stream is fed (default: empty). */
  StreamCase lastEventId(String id) {
    this.lastEventId = id;
    return this;
  }

  /** The last event ID the parser is built with (default: empty). */
  StreamCase startingFrom(String id) {
    this.initialLastEventId = id;
    return this;
  }

  boolean lineEndingAgnostic() {
    for (byte b : input) {
      if (b == '\r') {
        return false;
      }
    }
    return true;
  }

  /** Runs the case through {@link ParserHarness#assertEverySplit} with the given line ending. */
  void assertParses(LineEnding ending) {
    byte[] bytes = ending.apply(input);
    String label = name + " (" + ending + ")";
    ParserHarness.assertEverySplit(label, bytes, initialLastEventId, expected, lastEventId);
  }

  /** Arguments (case, line ending): every case as written, agnostic ones also with CR and CRLF. */
  static Stream<Arguments> withLineEndings(Stream<StreamCase> cases) {
    return cases.flatMap(
        c ->
            c.lineEndingAgnostic()
                ? Stream.of(LineEnding.LF, LineEnding.CR, LineEnding.CRLF)
                    .map(e -> Arguments.of(c, e))
                : Stream.of(Arguments.of(c, LineEnding.AS_WRITTEN)));
  }

  @Override
  public String toString() {
    return name;
  }
}
