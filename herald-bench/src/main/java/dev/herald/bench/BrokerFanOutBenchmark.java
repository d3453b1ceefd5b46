package dev.herald.bench;

import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.Sink;
import dev.herald.server.StoredEvent;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Broker fan-out: one operation is one delivered event. Each invocation publishes one event (to the
 * in-memory log) that reaches {@value #SUBSCRIBERS} live subscriptions, so the score is events
 * delivered per second and, with {@code -prof gc}, {@code gc.alloc.rate.norm} is the bytes
 * allocated per delivered event: the publish's own allocations (stored event, frame, future) spread
 * over every subscriber, plus whatever fan-out allocates per subscriber — which should be nothing,
 * the frame being encoded once and shared.
 *
 * <p>The sinks are in-memory: they count the bytes they are handed, as a transport queueing the
 * shared array would.
 *
 * <pre>
 * java -jar herald-bench/target/benchmarks.jar BrokerFanOut -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class BrokerFanOutBenchmark {
  static final int SUBSCRIBERS = 10_000;

  private Broker broker;
  private CountingSink[] sinks;
  private Publication publication;

  @Setup(Level.Trial)
  public void setUp() {
    broker =
        Broker.builder()
            .heartbeat(Duration.ZERO)
            .log(
                MemoryEventLog.builder()
                    .retention(new Retention(1000, Duration.ofHours(1)))
                    .build())
            .build();
    sinks = new CountingSink[SUBSCRIBERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
      sinks[i] = new CountingSink();
      broker.subscribe(Set.of("prices"), Position.live(), sinks[i]);
    }
    publication =
        Publication.of("prices", Event.of("price", "{\"symbol\":\"EURUSD\",\"bid\":1.0842}"));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    long expected = sinks[0].bytes;
    for (CountingSink sink : sinks) {
      if (sink.bytes != expected || sink.closed) {
        throw new IllegalStateException("a sink missed events or was closed");
      }
    }
    broker.close();
  }

  @Benchmark
  @OperationsPerInvocation(SUBSCRIBERS)
  public StoredEvent publishToTenThousand() {
    return broker.publish(publication).join();
  }

  /** A sink that accepts every frame and counts its bytes. */
  static final class CountingSink implements Sink {
    long bytes;
    boolean closed;

    @Override
    public boolean send(byte[] frame) {
      bytes += frame.length;
      return true;
    }

    @Override
    public void closed(CloseReason reason) {
      closed = true;
    }
  }
}
