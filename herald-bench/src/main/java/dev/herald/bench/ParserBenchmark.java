package dev.herald.bench;

import com.launchdarkly.eventsource.ConnectStrategy;
import com.launchdarkly.eventsource.EventSource;
import com.launchdarkly.eventsource.MessageEvent;
import com.launchdarkly.eventsource.OkhttpEventSourceParser;
import com.launchdarkly.eventsource.StreamClosedByServerException;
import com.launchdarkly.eventsource.StreamException;
import com.launchdarkly.logging.LDLogger;
import dev.herald.core.SseParser;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Parser throughput: one operation parses one whole stream (a fresh parser, as for a new
 * connection) delivered in 8 KiB reads, and consumes every event's type, data and id. Herald and
 * okhttp-eventsource run on the same bytes in the same run; the {@code bytes} and {@code events}
 * counters give MB/s and events/s directly.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class ParserBenchmark {
  /** The size of one network read. */
  static final int CHUNK = 8192;

  @Param({"SMALL_JSON", "LARGE_MULTILINE"})
  public Streams stream;

  byte[] bytes;
  int eventCount;

  /** Bytes and events parsed, reported by JMH as rates next to the operation rate. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counters {
    public long bytes;
    public long events;

    @Setup(Level.Iteration)
    public void reset() {
      bytes = 0;
      events = 0;
    }
  }

  @Setup
  public void setUp() throws Exception {
    bytes = stream.bytes();
    eventCount = stream.events().size();
    // Both parsers must see every event, or the comparison means nothing.
    int herald = heraldParse(SETUP_BLACKHOLE);
    int okhttp = okhttpParse(SETUP_BLACKHOLE);
    if (herald != eventCount || okhttp != eventCount) {
      throw new IllegalStateException(
          "expected " + eventCount + " events, herald " + herald + ", okhttp " + okhttp);
    }
  }

  private int heraldParse(Blackhole blackhole) {
    int[] events = {0};
    SseParser parser =
        SseParser.create(
            event -> {
              blackhole.consume(event.type());
              blackhole.consume(event.data());
              blackhole.consume(event.id());
              events[0]++;
            });
    for (int at = 0; at < bytes.length; at += CHUNK) {
      parser.feed(bytes, at, Math.min(CHUNK, bytes.length - at));
    }
    return events[0];
  }

  private int okhttpParse(Blackhole blackhole) throws StreamException {
    return OkhttpEventSourceParser.parseAll(
        new ChunkedInputStream(bytes, CHUNK),
        EventSource.DEFAULT_READ_BUFFER_SIZE,
        message -> {
          blackhole.consume(message.getEventName());
          blackhole.consume(message.getData());
          blackhole.consume(message.getLastEventId());
        });
  }

  /** Herald's {@link SseParser}, fed the stream's bytes in place, 8 KiB at a time. */
  @Benchmark
  public void herald(Blackhole blackhole, Counters counters) {
    counters.events += heraldParse(blackhole);
    counters.bytes += bytes.length;
  }

  /**
   * okhttp-eventsource 4.1.1's parser, reading 8 KiB at a time, with its default 1000-byte buffer
   * (faster on these streams than an 8 KiB one, which it compacts after every line).
   */
  @Benchmark
  public void okhttpEventSource(Blackhole blackhole, Counters counters) throws StreamException {
    counters.events += okhttpParse(blackhole);
    counters.bytes += bytes.length;
  }

  /**
   * okhttp-eventsource through its public API, as an application uses it: an {@link EventSource} on
   * an in-memory connection, read with {@code readMessage()}, default settings.
   */
  @Benchmark
  public void okhttpEventSourceClient(Blackhole blackhole, Counters counters) {
    EventSource source =
        new EventSource.Builder(new InMemoryConnect(bytes)).logger(LDLogger.none()).build();
    int events = 0;
    try {
      while (true) {
        MessageEvent message = source.readMessage();
        blackhole.consume(message.getEventName());
        blackhole.consume(message.getData());
        blackhole.consume(message.getLastEventId());
        events++;
      }
    } catch (StreamClosedByServerException endOfStream) {
      // The whole stream was read.
    } catch (StreamException e) {
      throw new IllegalStateException(e);
    } finally {
      source.close();
    }
    counters.events += events;
    counters.bytes += bytes.length;
  }

  /** For the one check in {@link #setUp}, outside any measurement (JMH's sanctioned way). */
  private static final Blackhole SETUP_BLACKHOLE =
      new Blackhole(
          "Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");

  /** A connection that delivers the stream from memory in 8 KiB reads, then ends. */
  static final class InMemoryConnect extends ConnectStrategy {
    private final byte[] bytes;

    InMemoryConnect(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override
    public Client createClient(LDLogger logger) {
      return new Client() {
        private final URI origin = URI.create("http://127.0.0.1/events");

        @Override
        public Result connect(String lastEventId) {
          return new Result(new ChunkedInputStream(bytes, CHUNK), origin, null);
        }

        @Override
        public boolean awaitClosed(long timeoutMillis) {
          return true;
        }

        @Override
        public URI getOrigin() {
          return origin;
        }

        @Override
        public void close() {}
      };
    }
  }
}
