package dev.herald.bench;

import dev.herald.core.Event;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.sqlite.SqliteEventLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Durable appends per second to the SQLite store: each operation is one single-event publish that
 * returns only once its group commit has committed, from 4 or 16 publishing threads, with fsync off
 * ({@code synchronous=NORMAL}) and on ({@code synchronous=FULL}); and the latency of one append
 * from a lone publisher ({@code appendAlone}).
 *
 * <pre>
 * java -jar herald-bench/target/benchmarks.jar SqliteAppendBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(1)
public class SqliteAppendBenchmark {
  @Param({"false", "true"})
  public boolean fsync;

  private Path dir;
  private SqliteEventLog log;
  private final AtomicInteger threads = new AtomicInteger();

  /** Each publishing thread writes to its own 100 member topics, as a hub's users would. */
  @State(Scope.Thread)
  public static class Publisher {
    private String prefix;
    private long n;

    /** Names this thread's topics. */
    @Setup
    public void name(SqliteAppendBenchmark benchmark) {
      prefix = "members/" + benchmark.threads.getAndIncrement() + "-";
    }

    Publication next() {
      n++;
      return Publication.of(prefix + (n % 100), Event.of("ORDER_SHIPPED", "{\"n\":" + n + "}"));
    }
  }

  /** A fresh file with the default retention (so count trimming runs, as in production). */
  @Setup(Level.Trial)
  public void open() throws IOException {
    dir = Files.createTempDirectory("herald-bench-sqlite");
    log =
        SqliteEventLog.builder()
            .path(dir.resolve("events.db"))
            .retention(new Retention(1000, Duration.ofHours(24)))
            .fsync(fsync)
            .build();
    log.listener(events -> {});
  }

  /** Closes the log and deletes the file. */
  @TearDown(Level.Trial)
  public void close() throws IOException {
    log.close();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }
  }

  /**
   * One publisher, one event per commit, timed per append (hand-off to the writer, the transaction,
   * the completion): what a lone per-member publish adds to its delivery's latency.
   */
  @Benchmark
  @Threads(1)
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public StoredEvent appendAlone(Publisher publisher) {
    return log.append(List.of(publisher.next())).join().get(0);
  }

  /** 4 publishers. */
  @Benchmark
  @Threads(4)
  public StoredEvent append4Threads(Publisher publisher) {
    return log.append(List.of(publisher.next())).join().get(0);
  }

  /** 16 publishers. */
  @Benchmark
  @Threads(16)
  public StoredEvent append16Threads(Publisher publisher) {
    return log.append(List.of(publisher.next())).join().get(0);
  }
}
