package dev.herald.bench.client;

import dev.herald.client.EventSource;
import dev.herald.core.Event;
import java.io.IOException;
import java.net.URI;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the size of a blocking hand-off window costs: Herald's {@link EventSource} as a Flow
 * publisher, its events handed to the benchmark thread through a bounded queue of {@code window}
 * events, more requested each time half the window has been taken. With a window of 64 this is what
 * {@link EventSource#events()} does; the larger windows show how much of its cost is the number of
 * thread wake-ups rather than work per event.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class HandOffBenchmark {
  @Param({"64", "1024", "16384"})
  public int window;

  @Param({"SMALL_JSON"})
  public ClientStreams stream;

  LocalSseServer server;
  URI uri;
  int eventsPerConnection;
  long bytesPerConnection;
  long expectedChecksum;

  @Setup
  public void setUp() throws IOException {
    byte[] block = stream.blockBytes();
    server = LocalSseServer.start(block, stream.repeats());
    uri = server.uri();
    eventsPerConnection = stream.eventsPerConnection();
    bytesPerConnection = (long) block.length * stream.repeats();
    expectedChecksum = stream.expectedChecksum();
  }

  @TearDown
  public void tearDown() throws IOException {
    server.close();
  }

  /** Herald's publisher into a blocking queue of {@code window} events, read on this thread. */
  @Benchmark
  public void heraldQueue(ClientBenchmark.Counters counters) throws InterruptedException {
    BlockingQueue<Event> queue = new ArrayBlockingQueue<>(window);
    Flow.Subscription[] subscription = new Flow.Subscription[1];
    EventSource source = EventSource.builder(uri).build();
    source.subscribe(
        new Flow.Subscriber<Event>() {
          @Override
          public void onSubscribe(Flow.Subscription s) {
            subscription[0] = s;
            s.request(window);
          }

          @Override
          public void onNext(Event event) {
            if (!queue.offer(event)) {
              throw new IllegalStateException("More events than requested");
            }
          }

          @Override
          public void onError(Throwable error) {}

          @Override
          public void onComplete() {}
        });
    long checksum = 0;
    try {
      int taken = 0;
      for (int i = 0; i < eventsPerConnection; i++) {
        Event event = queue.poll(60, TimeUnit.SECONDS);
        if (event == null) {
          throw new IllegalStateException("No event within 60 s after " + i);
        }
        checksum += ClientBenchmark.heraldChecksum(event);
        if (++taken >= window / 2) {
          // subscription[0] was set before the first event could arrive.
          subscription[0].request(taken);
          taken = 0;
        }
      }
    } finally {
      source.close();
    }
    if (checksum != expectedChecksum) {
      throw new IllegalStateException("Checksum " + checksum + " != " + expectedChecksum);
    }
    counters.events += eventsPerConnection;
    counters.bytes += bytesPerConnection;
  }
}
