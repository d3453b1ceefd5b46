package dev.herald.bench.load;

import io.netty.channel.epoll.EpollEventLoopGroup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The hub load generator (issue 5): many SSE connections on a Netty epoll client against Herald,
 * Nchan or {@link TrivialFanOutServer}, with latency from the publisher's timestamp embedded in
 * every event. Every scenario has a fixed duration and stops by itself.
 *
 * <pre>
 * java -cp benchmarks.jar dev.herald.bench.load.LoadGenerator &lt;idle|broadcast|members|publish&gt;
 *     --target herald|nchan|trivial --port P[,P2...] [--subs N] [--seconds S] [--pids p1,p2]
 *     [--rates r1,r2,...] [--window W] [--one-per-sec-seconds S1] [--publishers P]
 *     [--publisher-threads N] [--threads T]
 *     [--payload B] [--json FILE]
 * </pre>
 *
 * <ul>
 *   <li>{@code idle}: N streams, each on its own topic; server RSS (sum of VmRSS of --pids) before
 *       and after, per connection.
 *   <li>{@code broadcast}: N streams on one topic; (a) sustained deliveries/s with publishing held
 *       to at most W broadcasts not yet delivered to everyone; (b) delivery latency at 1
 *       broadcast/s for S1 seconds (default: --seconds).
 *   <li>{@code members}: N streams, each on its own topic; publishes spread round-robin over the
 *       topics at each rate of --rates; per step: achieved rate, delivered/expected, p50/p99; stops
 *       after two failed steps in a row. A step is ok when at least 99 % of the target rate was
 *       sent, every publish was acknowledged, every event delivered and p99 &lt; 100 ms.
 *   <li>{@code publish}: no subscribers; closed-loop POSTs on --publishers keep-alive connections
 *       (one request in flight each), spread over --publisher-threads event loops (default 1).
 * </ul>
 *
 * <p>Broadcast and per-member runs also report CPU time (utime + stime) per delivery or per event,
 * of the server (the processes of --pids) and of this generator: the two share the machine.
 */
public final class LoadGenerator {
  /** {@code /proc/<pid>/stat} counts CPU time in clock ticks: USER_HZ, 100 on Linux. */
  private static final long CLOCK_TICKS_PER_SECOND = 100;

  /** This process: the load generator's own CPU is the other half of the machine's budget. */
  private static final List<Path> SELF = List.of(Path.of("/proc/self"));

  private final Map<String, String> opts;
  private final Target target;
  // Several ports (comma-separated) spread subscribers and publishers round-robin over nodes.
  private final int[] ports;
  private final Map<String, Object> result = new LinkedHashMap<>();

  private LoadGenerator(Map<String, String> opts) {
    this.opts = opts;
    this.target = Target.valueOf(opts.getOrDefault("target", "herald").toUpperCase(Locale.ROOT));
    this.ports =
        java.util.Arrays.stream(opts.getOrDefault("port", "8080").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
  }

  /**
   * Runs one scenario and prints a one-line summary and a JSON line.
   *
   * @param args the scenario then {@code --name value} options
   * @throws Exception on any failure
   */
  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: LoadGenerator <idle|broadcast|members|publish> [--name value]...");
      System.exit(2);
    }
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    LoadGenerator gen = new LoadGenerator(opts);
    gen.result.put("scenario", args[0]);
    gen.result.put("target", gen.target.name().toLowerCase(Locale.ROOT));
    gen.result.put("label", opts.getOrDefault("label", gen.target.name().toLowerCase(Locale.ROOT)));
    EpollEventLoopGroup group = new EpollEventLoopGroup(gen.intOpt("threads", 1));
    try {
      switch (args[0]) {
        case "idle" -> gen.idle(group);
        case "broadcast" -> gen.broadcast(group);
        case "members" -> gen.members(group);
        case "publish" -> gen.publish();
        default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    gen.emit();
    System.exit(0);
  }

  private int intOpt(String name, int dflt) {
    return Integer.parseInt(opts.getOrDefault(name, String.valueOf(dflt)));
  }

  private double doubleOpt(String name, double dflt) {
    return Double.parseDouble(opts.getOrDefault(name, String.valueOf(dflt)));
  }

  private double seconds() {
    return doubleOpt("seconds", 10);
  }

  private void idle(EpollEventLoopGroup group) throws Exception {
    int n = intOpt("subs", 10_000);
    long before = rssKb();
    Subscribers subs = new Subscribers(group, target, ports);
    subs.open(n, i -> target.topic("member", i), 120_000);
    Thread.sleep((long) (seconds() * 1000));
    long after = rssKb();
    result.put("subscribers", subs.open.get());
    result.put("refused", subs.refused.get());
    result.put("closed", subs.closed.get());
    result.put("rssBeforeKb", before);
    result.put("rssAfterKb", after);
    result.put(
        "bytesPerConnection", subs.open.get() == 0 ? 0 : (after - before) * 1024 / subs.open.get());
    subs.closeAll();
  }

  private void broadcast(EpollEventLoopGroup group) throws Exception {
    int n = intOpt("subs", 10_000);
    int window = intOpt("window", 4);
    Subscribers subs = new Subscribers(group, target, ports);
    subs.open(n, i -> "bcast", 120_000);
    int open = subs.open.get();
    result.put("subscribers", open);
    Publishers pub = new Publishers(target, ports, s -> "bcast", intOpt("payload", 64));
    pub.connect(1);
    double secs = seconds();
    // (a) sustained: at most `window` broadcasts not yet delivered to every subscriber.
    java.util.function.LongPredicate gate =
        sentSoFar -> subs.delivered.sum() >= (sentSoFar - window) * (long) open;
    pub.run(0, gate, Math.min(3, secs / 2));
    subs.snapshot();
    long d1 = subs.delivered.sum();
    long c1 = cpuMicros();
    long own1 = cpuMicros(SELF);
    long t1 = System.nanoTime();
    long[] run = pub.run(0, gate, secs);
    long d2 = subs.delivered.sum();
    double elapsed = (System.nanoTime() - t1) / 1e9;
    long cpu = cpuMicros() - c1;
    long ownCpu = cpuMicros(SELF) - own1;
    LatencyHistogram sustained = subs.snapshot();
    result.put("sustainedDeliveriesPerSec", Math.round((d2 - d1) / elapsed));
    result.put("serverCpuUsPerDelivery", microsEach(cpu, d2 - d1));
    result.put("loadGenCpuUsPerDelivery", microsEach(ownCpu, d2 - d1));
    result.put("sustainedBroadcastsPerSec", Math.round(run[1] / elapsed));
    result.put("sustainedP99Ms", sustained.percentile(0.99) / 1000.0);
    drain(subs, 0, pub.totalSent() * open, 10_000);
    // (b) one broadcast per second: latency. Its own length, as a p99 over few broadcasts is set
    // by the slowest one or two.
    subs.snapshot();
    long before = subs.delivered.sum();
    long slowCpu = cpuMicros();
    double slowSecs = doubleOpt("one-per-sec-seconds", secs);
    long[] slow = pub.run(1, sent -> true, slowSecs);
    drain(subs, before, slow[0] * open, 15_000);
    slowCpu = cpuMicros() - slowCpu;
    LatencyHistogram lat = subs.snapshot();
    result.put("onePerSecBroadcasts", slow[0]);
    result.put("onePerSecDelivered", subs.delivered.sum() - before);
    result.put("onePerSecExpected", slow[0] * open);
    result.put("onePerSecServerCpuUsPerDelivery", microsEach(slowCpu, slow[0] * open));
    putLatency("onePerSec", lat);
    result.put("closedStreams", subs.closed.get());
    pub.close();
    subs.closeAll();
  }

  /** Waits until deliveries since {@code base} reach {@code expected}, or the timeout. */
  private static void drain(Subscribers subs, long base, long expected, long timeoutMs)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (subs.delivered.sum() - base < expected && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
  }

  private void members(EpollEventLoopGroup group) throws Exception {
    int n = intOpt("subs", 10_000);
    Subscribers subs = new Subscribers(group, target, ports);
    subs.open(n, i -> target.topic("member", i), 180_000);
    int open = subs.open.get();
    result.put("subscribers", open);
    Publishers pub =
        new Publishers(
            target, ports, s -> target.topic("member", (int) (s % n)), intOpt("payload", 64));
    int connections = intOpt("publishers", 64);
    pub.connect(connections);
    List<Map<String, Object>> steps = new ArrayList<>();
    double bestOk = 0;
    int failures = 0;
    for (String r : opts.getOrDefault("rates", "1000,5000,10000,20000").split(",")) {
      double rate = Double.parseDouble(r);
      subs.snapshot();
      long before = subs.delivered.sum();
      long cpuBefore = cpuMicros();
      long ownCpuBefore = cpuMicros(SELF);
      long[] run = pub.run(rate, sent -> true, seconds());
      long cpu = cpuMicros() - cpuBefore;
      long ownCpu = cpuMicros(SELF) - ownCpuBefore;
      drain(subs, before, run[0], 5_000);
      long delivered = subs.delivered.sum() - before;
      LatencyHistogram lat = subs.snapshot();
      Map<String, Object> step = new LinkedHashMap<>();
      step.put("targetRate", rate);
      step.put("achievedRate", Math.round(run[0] / seconds()));
      step.put("sent", run[0]);
      step.put("acked", run[1]);
      step.put("failed", run[2]);
      if (run[2] > 0) {
        step.put("failureStatus", run[3]);
      }
      step.put("delivered", delivered);
      step.put("serverCpuUsPerEvent", microsEach(cpu, run[0]));
      step.put("loadGenCpuUsPerEvent", microsEach(ownCpu, run[0]));
      step.put("p50Ms", lat.percentile(0.50) / 1000.0);
      step.put("p99Ms", lat.percentile(0.99) / 1000.0);
      step.put("maxMs", lat.max() / 1000.0);
      boolean ok =
          run[0] >= 0.99 * rate * seconds()
              && run[1] == run[0]
              && delivered >= run[0]
              && lat.percentile(0.99) < 100_000;
      step.put("ok", ok);
      steps.add(step);
      System.out.println("  step " + json(step));
      // One failed step may be noise (the machine is shared); two in a row end the search.
      failures = ok ? 0 : failures + 1;
      if (ok) {
        bestOk = Math.max(bestOk, rate);
      } else if (failures >= 2) {
        break;
      }
    }
    result.put("steps", steps);
    result.put("maxOkRate", bestOk);
    result.put("closedStreams", subs.closed.get());
    pub.close();
    subs.closeAll();
  }

  private void publish() throws Exception {
    int connections = intOpt("publishers", 64);
    int topics = intOpt("topics", 1);
    // One event loop thread sends and reads for all its connections; above ~25 000 requests/s one
    // thread can be the limit, so the connections can be spread over several, each its own loop.
    int threads = Math.max(1, Math.min(connections, intOpt("publisher-threads", 1)));
    List<Publishers> pubs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Publishers pub =
          new Publishers(
              target, ports, s -> target.topic("durable" + (s % topics), 0), intOpt("payload", 64));
      pub.connect(connections / threads + (t < connections % threads ? 1 : 0));
      pubs.add(pub);
    }
    runAll(pubs, Math.min(3, seconds() / 2));
    long start = System.nanoTime();
    long[] run = runAll(pubs, seconds());
    double elapsed = (System.nanoTime() - start) / 1e9;
    result.put("publishers", connections);
    result.put("publisherThreads", threads);
    result.put("acked", run[1]);
    result.put("failed", run[2]);
    if (run[2] > 0) {
      result.put("failureStatus", run[3]);
    }
    result.put("ackedPerSec", Math.round(run[1] / elapsed));
    pubs.forEach(Publishers::close);
  }

  /** Runs every publisher closed-loop at once for {@code seconds}; sums their counters. */
  private static long[] runAll(List<Publishers> pubs, double seconds) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(pubs.size());
    try {
      List<Future<long[]>> runs = new ArrayList<>();
      for (Publishers pub : pubs) {
        runs.add(pool.submit(() -> pub.run(0, sent -> true, seconds)));
      }
      long[] sum = new long[4];
      for (Future<long[]> f : runs) {
        long[] r = f.get();
        for (int i = 0; i < 3; i++) {
          sum[i] += r[i];
        }
        sum[3] = Math.max(sum[3], r[3]);
      }
      return sum;
    } finally {
      pool.shutdownNow();
    }
  }

  private void putLatency(String prefix, LatencyHistogram h) {
    result.put(prefix + "Samples", h.count());
    result.put(prefix + "P50Ms", h.percentile(0.50) / 1000.0);
    result.put(prefix + "P99Ms", h.percentile(0.99) / 1000.0);
    result.put(prefix + "MaxMs", h.max() / 1000.0);
  }

  /**
   * CPU time (user + system, microseconds) the processes named by --pids have used so far, 0 when
   * none: what a delivery costs the server, steadier on a shared machine than a rate.
   */
  private long cpuMicros() throws IOException {
    return cpuMicros(serverProcesses());
  }

  /** CPU microseconds per delivery or event, to two decimals; 0 when there were none. */
  private static double microsEach(long cpuMicros, long count) {
    return count == 0 ? 0 : Math.round(100.0 * cpuMicros / count) / 100.0;
  }

  /** CPU time (utime + stime) of the given {@code /proc} directories, in microseconds. */
  private static long cpuMicros(List<Path> processes) throws IOException {
    long ticks = 0;
    for (Path proc : processes) {
      // The fields after the command name, which is in parentheses and may hold spaces.
      String stat = Files.readString(proc.resolve("stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
    }
    return ticks * 1_000_000 / CLOCK_TICKS_PER_SECOND;
  }

  /** The {@code /proc} directories of the processes named by --pids. */
  private List<Path> serverProcesses() {
    List<Path> dirs = new ArrayList<>();
    for (String pid : opts.getOrDefault("pids", "").split(",")) {
      if (!pid.isBlank()) {
        dirs.add(Path.of("/proc", pid.trim()));
      }
    }
    return dirs;
  }

  /** Sum of VmRSS (KiB) of the processes named by --pids, 0 when none. */
  private long rssKb() throws IOException {
    long sum = 0;
    for (Path proc : serverProcesses()) {
      for (String line : Files.readAllLines(proc.resolve("status"))) {
        if (line.startsWith("VmRSS:")) {
          sum += Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    }
    return sum;
  }

  private void emit() throws IOException {
    StringBuilder summary = new StringBuilder("RESULT");
    result.forEach(
        (k, v) -> {
          if (!(v instanceof List)) {
            summary.append(' ').append(k).append('=').append(v);
          }
        });
    System.out.println(summary);
    String json = json(result);
    System.out.println(json);
    String file = opts.get("json");
    if (file != null) {
      Files.writeString(
          Path.of(file), json + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }

  static String json(Object v) {
    if (v instanceof Map<?, ?> m) {
      StringBuilder sb = new StringBuilder("{");
      m.forEach(
          (k, x) -> {
            if (sb.length() > 1) {
              sb.append(',');
            }
            sb.append('"').append(k).append("\":").append(json(x));
          });
      return sb.append('}').toString();
    }
    if (v instanceof List<?> l) {
      StringBuilder sb = new StringBuilder("[");
      for (Object x : l) {
        if (sb.length() > 1) {
          sb.append(',');
        }
        sb.append(json(x));
      }
      return sb.append(']').toString();
    }
    if (v instanceof String s) {
      return '"' + s + '"';
    }
    return String.valueOf(v);
  }
}
