package dev.herald.bench.client;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A load-tolerant companion to {@link ClientBenchmark}, for machines shared with other work where
 * JMH's one-benchmark-after-another runs see different load: one JVM runs {@link ClientBenchmark}'s
 * own operations (one connection, all its events, checksum checked) in rounds, each round every
 * contender once, one after the other, so that all of them see nearly the same load. It prints each
 * contender's best round (the one least disturbed by other processes), its median round, and the
 * median over rounds of its ratio to {@code okhttpEventSourceSync} in the same round.
 *
 * <pre>{@code
 * java -cp herald-bench/target/benchmarks.jar dev.herald.bench.client.ClientShootout [rounds]
 *     [contender,...]
 * }</pre>
 *
 * <p>Contenders are {@link ClientBenchmark}'s method names; by default {@code heraldStream}, {@code
 * heraldFlow}, {@code heraldFlowUnbounded}, {@code heraldCallback} and {@code
 * okhttpEventSourceSync}. The first fifth of the rounds warms up and is not counted.
 */
public final class ClientShootout {
  private static final String REFERENCE = "okhttpEventSourceSync";

  private ClientShootout() {}

  /** An operation of {@link ClientBenchmark}. */
  @FunctionalInterface
  private interface Operation {
    void run(ClientBenchmark benchmark, ClientBenchmark.Counters counters) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    List<String> names =
        args.length > 1
            ? Arrays.asList(args[1].split(","))
            : List.of(
                "heraldStream", "heraldFlow", "heraldFlowUnbounded", "heraldCallback", REFERENCE);
    Map<String, Operation> operations = new LinkedHashMap<>();
    for (String name : names) {
      operations.put(name, operation(name));
    }
    if (!operations.containsKey(REFERENCE)) {
      operations.put(REFERENCE, operation(REFERENCE));
    }
    int warmUp = rounds / 5;
    for (ClientStreams stream : ClientStreams.values()) {
      ClientBenchmark benchmark = new ClientBenchmark();
      benchmark.stream = stream;
      benchmark.setUp();
      Map<String, double[]> rates = new LinkedHashMap<>();
      for (String name : operations.keySet()) {
        rates.put(name, new double[rounds - warmUp]);
      }
      try {
        for (int round = 0; round < rounds; round++) {
          for (Map.Entry<String, Operation> entry : operations.entrySet()) {
            ClientBenchmark.Counters counters = new ClientBenchmark.Counters();
            long start = System.nanoTime();
            entry.getValue().run(benchmark, counters);
            long elapsed = System.nanoTime() - start;
            if (round >= warmUp) {
              rates.get(entry.getKey())[round - warmUp] = counters.events * 1e9 / elapsed;
            }
          }
        }
      } finally {
        benchmark.tearDown();
      }
      double[] reference = rates.get(REFERENCE);
      System.out.printf(
          Locale.ROOT, "%s (%d rounds counted of %d)%n", stream, rounds - warmUp, rounds);
      for (Map.Entry<String, double[]> entry : rates.entrySet()) {
        double[] own = entry.getValue();
        double[] ratios = new double[own.length];
        for (int i = 0; i < own.length; i++) {
          ratios[i] = own[i] / reference[i];
        }
        System.out.printf(
            Locale.ROOT,
            "  %-28s best %10.0f events/s  median %10.0f events/s  x%s: best %.2f, median %.2f%n",
            entry.getKey(),
            max(own),
            median(own),
            REFERENCE,
            max(own) / max(reference),
            median(ratios));
      }
    }
  }

  private static Operation operation(String name) {
    return switch (name) {
      case "heraldCallback" -> ClientBenchmark::heraldCallback;
      case "heraldStream" -> ClientBenchmark::heraldStream;
      case "heraldFlow" -> ClientBenchmark::heraldFlow;
      case "heraldFlowUnbounded" -> ClientBenchmark::heraldFlowUnbounded;
      case "okhttpEventSourceSync" -> ClientBenchmark::okhttpEventSourceSync;
      case "okhttpEventSourceBackground" -> ClientBenchmark::okhttpEventSourceBackground;
      case "rawSocketBaseline" -> ClientBenchmark::rawSocketBaseline;
      default -> throw new IllegalArgumentException("No such contender: " + name);
    };
  }

  private static double max(double[] values) {
    return Arrays.stream(values).max().orElse(0);
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
