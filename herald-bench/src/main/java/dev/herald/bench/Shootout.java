package dev.herald.bench;

import com.launchdarkly.eventsource.EventSource;
import com.launchdarkly.eventsource.OkhttpEventSourceParser;
import com.launchdarkly.eventsource.StreamException;
import dev.herald.core.SseParser;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;

/**
 * A quick, load-tolerant comparison of the two parsers, for machines shared with other work where
 * JMH's sequential runs see different load: one JVM alternates short rounds of Herald and
 * okhttp-eventsource on the same bytes (as {@link ParserBenchmark} feeds them), times each round in
 * CPU time of the benchmark thread (time spent descheduled does not count; work of the GC threads
 * does not either, which slightly favours the parser that allocates more) and keeps each parser's
 * best round, the one least disturbed by other processes.
 *
 * <pre>{@code java -cp herald-bench/target/benchmarks.jar dev.herald.bench.Shootout [rounds]}</pre>
 */
public final class Shootout {
  private static long sink;

  private Shootout() {}

  public static void main(String[] args) throws StreamException {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 300;
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    for (Streams stream : Streams.values()) {
      byte[] bytes = stream.bytes();
      int events = stream.events().size();
      int repeat = Math.max(1, 3_000_000 / bytes.length);
      long bestHerald = Long.MAX_VALUE;
      long bestOkhttp = Long.MAX_VALUE;
      for (int round = 0; round < rounds; round++) {
        long start = threads.getCurrentThreadCpuTime();
        for (int r = 0; r < repeat; r++) {
          herald(bytes);
        }
        long middle = threads.getCurrentThreadCpuTime();
        for (int r = 0; r < repeat; r++) {
          okhttp(bytes);
        }
        long end = threads.getCurrentThreadCpuTime();
        if (round >= rounds / 10) { // the first tenth warms up
          bestHerald = Math.min(bestHerald, (middle - start) / repeat);
          bestOkhttp = Math.min(bestOkhttp, (end - middle) / repeat);
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%-15s %8d bytes %5d events | herald %7.0f MB/s %10.0f events/s | okhttp-eventsource"
              + " %7.0f MB/s %10.0f events/s | ratio %.2f%n",
          stream,
          bytes.length,
          events,
          bytes.length * 1e3 / bestHerald,
          events * 1e9 / bestHerald,
          bytes.length * 1e3 / bestOkhttp,
          events * 1e9 / bestOkhttp,
          (double) bestOkhttp / bestHerald);
    }
    if (sink == 42) {
      System.out.println(); // keeps the work observable
    }
  }

  private static void herald(byte[] bytes) {
    SseParser parser =
        SseParser.create(
            event ->
                sink +=
                    event.type().length()
                        + event.data().length()
                        + event.id().map(String::length).orElse(0));
    for (int at = 0; at < bytes.length; at += ParserBenchmark.CHUNK) {
      parser.feed(bytes, at, Math.min(ParserBenchmark.CHUNK, bytes.length - at));
    }
  }

  private static void okhttp(byte[] bytes) throws StreamException {
    OkhttpEventSourceParser.parseAll(
        new ChunkedInputStream(bytes, ParserBenchmark.CHUNK),
        EventSource.DEFAULT_READ_BUFFER_SIZE,
        message -> {
          String id = message.getLastEventId();
          sink +=
              message.getEventName().length()
                  + message.getData().length()
                  + (id == null ? 0 : id.length());
        });
  }
}
