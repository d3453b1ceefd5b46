package dev.herald.bench;

import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Encoder throughput: one operation encodes one event of the stream (cycling through all of them)
 * to the bytes written on the wire. okhttp-eventsource is a client and has no encoder, so Herald's
 * {@link SseEncoder} is compared with the encoder people write by hand: a {@link StringBuilder},
 * the data split on line breaks with a regular expression, then {@code getBytes(UTF_8)}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Thread)
public class EncoderBenchmark {
  private static final Pattern LINE_BREAK = Pattern.compile("\r\n|\r|\n");

  @Param({"SMALL_JSON", "LARGE_MULTILINE"})
  public Streams stream;

  private Event[] events;
  private int next;

  @Setup
  public void setUp() {
    List<Event> list = stream.events();
    events = list.toArray(new Event[0]);
    // Same bytes or the comparison means nothing.
    for (Event event : events) {
      if (!java.util.Arrays.equals(SseEncoder.encode(event), handWritten(event))) {
        throw new IllegalStateException("encoders disagree on " + event);
      }
    }
  }

  private Event nextEvent() {
    Event event = events[next];
    next = next + 1 == events.length ? 0 : next + 1;
    return event;
  }

  @Benchmark
  public byte[] herald() {
    return SseEncoder.encode(nextEvent());
  }

  @Benchmark
  public byte[] handWritten() {
    return handWritten(nextEvent());
  }

  /** The usual hand-written encoder (correct for CR, LF and CRLF, which many are not). */
  static byte[] handWritten(Event event) {
    StringBuilder frame = new StringBuilder();
    event.id().ifPresent(id -> frame.append("id: ").append(id).append('\n'));
    if (!event.type().equals(Event.DEFAULT_TYPE)) {
      frame.append("event: ").append(event.type()).append('\n');
    }
    for (String line : LINE_BREAK.split(event.data(), -1)) {
      frame.append(line.isEmpty() ? "data:" : "data: ").append(line).append('\n');
    }
    frame.append('\n');
    return frame.toString().getBytes(StandardCharsets.UTF_8);
  }
}
