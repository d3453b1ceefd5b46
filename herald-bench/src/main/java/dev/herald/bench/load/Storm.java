package dev.herald.bench.load;

import io.netty.channel.epoll.EpollEventLoopGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The reconnect storm (issue 19): N subscribers with {@code Last-Event-ID} come back at the same
 * moment after their server restarts on the same store.
 *
 * <ol>
 *   <li>N subscribers over T topics (topic = subscriber mod T) open their streams; E events per
 *       topic are published and every subscriber receives them.
 *   <li>Every 10th subscriber (--away-every) goes away, and A more events per topic are published
 *       (--away-events 5), which those subscribers have not seen.
 *   <li>The server is stopped (SIGTERM) and started again on the same store, with every
 *       subscriber's reconnection held back; G more events per topic are published, which no
 *       subscriber has seen, and a steady publisher starts (--live-rate events/s over all topics).
 *   <li>All N reconnect at once, each with its last event id. Measured: time until every subscriber
 *       has a stream open again and until each has every event published before the storm; the
 *       server's RSS (every 100 ms) and used heap (every second) through it, against the idle
 *       restarted server. Then the publisher stops and every subscriber must have every
 *       acknowledged event of its topic, once and in order (or a {@code reset} before a gap).
 * </ol>
 *
 * <pre>
 * java -cp benchmarks.jar dev.herald.bench.load.Storm --target herald|nchan --port P
 *     --control "storm.sh node herald DIR" [--subs 19000] [--topics 1000] [--events 20]
 *     [--gap-events 20] [--away-every 10] [--away-events 5] [--live-rate 500] [--timeout-seconds 120] [--threads 2] [--label L]
 *     [--json FILE]
 * </pre>
 *
 * <p>A {@code 200} with {@code retry:} and an immediate end counts as shed (come back after the
 * retry, as a browser does); any other status counts in {@code non200} (a browser's EventSource
 * would give up there; this client retries after Retry-After).
 */
public final class Storm {
  private final Map<String, String> opts;
  private final Map<String, Object> result = new LinkedHashMap<>();

  private Storm(Map<String, String> opts) {
    this.opts = opts;
  }

  /**
   * Runs the storm once and prints a RESULT line and a JSON line.
   *
   * @param args {@code --name value} options
   * @throws Exception on any failure
   */
  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Storm storm = new Storm(opts);
    int code = storm.run();
    emit(storm.result, opts.get("json"));
    System.exit(code);
  }

  private int intOpt(String name, int dflt) {
    return Integer.parseInt(opts.getOrDefault(name, String.valueOf(dflt)));
  }

  private int run() throws Exception {
    Target target = Target.valueOf(opts.getOrDefault("target", "herald").toUpperCase(Locale.ROOT));
    int[] ports = {Integer.parseInt(opts.get("port"))};
    int n = intOpt("subs", 19_000);
    int topics = intOpt("topics", 1000);
    int events = intOpt("events", 20);
    int gapEvents = intOpt("gap-events", 20);
    double liveRate = Double.parseDouble(opts.getOrDefault("live-rate", "500"));
    long timeoutMs = intOpt("timeout-seconds", 120) * 1000L;
    boolean java = target == Target.HERALD;
    result.put("scenario", "storm");
    result.put("target", target.name().toLowerCase(Locale.ROOT));
    result.put("label", opts.getOrDefault("label", target.name().toLowerCase(Locale.ROOT)));
    result.put("subscribers", n);
    result.put("topics", topics);
    Nodes nodes = new Nodes(opts.get("control"), 1);
    Ledger ledger = new Ledger(topics);
    EpollEventLoopGroup group = new EpollEventLoopGroup(intOpt("threads", 2));
    Resumers subs = new Resumers(group, target, ports, ledger);
    SequencedPublishers pub = new SequencedPublishers(target, ports, ledger, 8);
    try {
      nodes.start(0);
      // 1. Everyone subscribed, E events each.
      subs.add(n, 0);
      subs.hold = true; // a subscriber refused while opening waits for the storm like the rest
      connectPaced(subs, n);
      if (!waitFor(() -> subs.open() >= n, timeoutMs)) {
        log("only " + subs.open() + " of " + n + " streams opened; held " + subs.held.size());
      }
      result.put("openedBeforeRestart", subs.open());
      pub.start(0, events);
      pub.awaitDone(timeoutMs);
      long[] before = pub.acked();
      waitFor(() -> subs.resumedTo(before) >= n, timeoutMs);
      result.put("caughtUpBeforeRestart", subs.resumedTo(before));
      // Every --away-every-th subscriber is away for the last A events before the restart: it
      // needs them from the store after the restart (a memory-only buffer has lost them).
      int awayEvery = intOpt("away-every", 10);
      int awayEvents = intOpt("away-events", 5);
      if (awayEvery > 0 && awayEvents > 0) {
        int away = 0;
        for (Resumers.Sub sub : subs.subs) {
          if (sub.index % awayEvery == 0) {
            subs.drop(sub);
            away++;
          }
        }
        int gone = away;
        waitFor(() -> subs.held.size() >= gone, 30_000);
        result.put("awayBeforeRestart", gone);
        pub.start(0, awayEvents);
        pub.awaitDone(timeoutMs);
        long[] last = pub.acked();
        waitFor(() -> subs.resumedTo(last) >= n - gone, timeoutMs);
      }
      long deliveredBefore = subs.delivered.sum();
      // 2. Restart, every subscriber held back.
      long stopMs = nodes.stop(0, opts.getOrDefault("signal", "TERM"));
      waitFor(() -> subs.open() == 0, 30_000);
      subs.held.clear(); // all are taken back below, at once
      long startMs = nodes.start(0);
      result.put("stopMs", stopMs);
      result.put("startMs", startMs);
      result.put("endsClean", subs.cleanEnds.sum());
      result.put("endsAbrupt", subs.abruptEnds.sum());
      try (ProcessWatch watch = new ProcessWatch(nodes.pids(0), java, 100)) {
        pub.start(0, gapEvents);
        pub.awaitDone(timeoutMs);
        long[] missed = pub.acked();
        Thread.sleep(1500); // one heap sample of the idle restarted server
        result.put("rssIdleKb", watch.rssKb());
        result.put("heapIdleKb", watch.peakHeapKb());
        watch.resetPeaks();
        pub.start(liveRate, Long.MAX_VALUE);
        // 3. The storm.
        subs.held.clear();
        List<Resumers.Sub> back = new ArrayList<>(subs.subs);
        result.put("reconnecting", back.size());
        long shedBefore = subs.shed.sum();
        long non200Before = subs.non200.sum();
        long connectFailuresBefore = subs.connectFailures.sum();
        Map<String, Long> tcpBefore = tcpCounters();
        long t0 = System.nanoTime();
        subs.hold = false;
        subs.connect(back);
        boolean allOpen = waitFor(() -> subs.open() >= n, timeoutMs);
        long openMs = (System.nanoTime() - t0) / 1_000_000;
        boolean allResumed = waitFor(() -> subs.resumedTo(missed) >= n, timeoutMs);
        long resumedMs = (System.nanoTime() - t0) / 1_000_000;
        result.put("allOpenMs", allOpen ? openMs : -1);
        Map<String, Long> tcpAfter = tcpCounters();
        tcpAfter.forEach((k, v) -> result.put(k, v - tcpBefore.getOrDefault(k, 0L)));
        // When each stream opened again: the spread shows the accept queue's part in the time.
        long[] opened =
            subs.subs.stream()
                .mapToLong(x -> x.openedNanos > t0 ? (x.openedNanos - t0) / 1_000_000 : -1)
                .filter(ms -> ms >= 0)
                .sorted()
                .toArray();
        for (double q : new double[] {0.5, 0.9, 0.99}) {
          result.put(
              "openP" + Math.round(q * 100) + "Ms",
              opened.length == 0
                  ? -1
                  : opened[(int) Math.min(opened.length - 1, q * opened.length)]);
        }
        result.put("allResumedMs", allResumed ? resumedMs : -1);
        result.put("openAfterStorm", subs.open());
        result.put("resumedAfterStorm", subs.resumedTo(missed));
        result.put("shed", subs.shed.sum() - shedBefore);
        result.put("non200", subs.non200.sum() - non200Before);
        StringBuilder statuses = new StringBuilder();
        subs.non200Statuses.forEach(
            (k, v) -> statuses.append(k).append(": ").append(v).append("; "));
        result.put("non200Statuses", statuses.toString().trim());
        result.put("connectFailures", subs.connectFailures.sum() - connectFailuresBefore);
        Thread.sleep(2000); // the live publisher keeps going while everything settles
        pub.stop(10_000);
        result.put("rssPeakKb", watch.peakRssKb());
        result.put("heapPeakKb", watch.peakHeapKb());
        result.put("rssAfterKb", watch.rssKb());
        if (java) {
          result.put("liveHeapAfterKb", watch.liveHeapKb());
        }
      }
      // 4. Every acknowledged event, once and in order.
      long[] all = pub.acked();
      boolean complete = waitFor(() -> subs.resumedTo(all) >= n, 30_000);
      long[] totals = ledger.totals();
      result.put("publishedAcked", totals[0]);
      result.put("publishedUnanswered", totals[1]);
      result.put("publishedRefused", totals[2]);
      result.put("deliveredAfterRestart", subs.delivered.sum() - deliveredBefore);
      result.put("complete", subs.resumedTo(all));
      result.put("lostForGood", n - subs.resumedTo(all));
      result.put("duplicates", subs.duplicates.sum());
      result.put("gaps", subs.gaps.sum());
      result.put("deliveredRefused", subs.deliveredRefused.sum());
      result.put("resets", subs.resets.sum());
      result.put("violations", subs.violationCount());
      subs.violations().forEach(v -> log("violation: " + v));
      boolean ok = complete && subs.violationCount() == 0;
      result.put("ok", ok);
      return ok ? 0 : 1;
    } finally {
      subs.closeAll();
      pub.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      try {
        nodes.stop(0, "TERM");
      } catch (RuntimeException e) {
        log("stopping the server: " + e.getMessage());
      }
    }
  }

  /** Opens the first streams at most 512 connecting at a time (the storm is the later part). */
  private static void connectPaced(Resumers subs, int n) throws Exception {
    for (int i = 0; i < n; i += 512) {
      subs.connect(subs.subs.subList(i, Math.min(n, i + 512)));
      int target = Math.min(n, i + 512);
      waitFor(() -> subs.open() + subs.held.size() >= target - 64, 30_000);
    }
    // those refused while opening (held) get another go, paced too
    List<Resumers.Sub> again = new ArrayList<>();
    Resumers.Sub s;
    while ((s = subs.held.poll()) != null) {
      again.add(s);
    }
    for (int i = 0; i < again.size(); i += 256) {
      subs.connect(again.subList(i, Math.min(again.size(), i + 256)));
      Thread.sleep(200);
    }
  }

  /**
   * The kernel's counts of connections its listen queues turned away and of SYN cookies sent
   * (system-wide, /proc/net/netstat): how much of a storm waited on TCP retransmissions.
   */
  static Map<String, Long> tcpCounters() {
    Map<String, Long> counters = new LinkedHashMap<>();
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
      for (int i = 0; i + 1 < lines.size(); i += 2) {
        String[] names = lines.get(i).split(" ");
        String[] values = lines.get(i + 1).split(" ");
        for (int j = 1; j < names.length && j < values.length; j++) {
          if (names[j].equals("ListenOverflows") || names[j].equals("SyncookiesSent")) {
            counters.put("tcp" + names[j], Long.parseLong(values[j]));
          }
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or another layout: no counters
    }
    return counters;
  }

  interface Condition {
    boolean met() throws Exception;
  }

  /** Polls every 20 ms until the condition holds (true) or the timeout passes (false). */
  static boolean waitFor(Condition c, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!c.met()) {
      if (System.currentTimeMillis() >= deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  static void log(String s) {
    System.out.println(java.time.LocalTime.now().withNano(0) + " " + s);
  }

  static void emit(Map<String, Object> result, String file) throws Exception {
    StringBuilder summary = new StringBuilder("RESULT");
    result.forEach(
        (k, v) -> {
          if (!(v instanceof List)) {
            summary.append(' ').append(k).append('=').append(v);
          }
        });
    System.out.println(summary);
    String json = LoadGenerator.json(result);
    System.out.println(json);
    if (file != null) {
      Files.writeString(
          Path.of(file), json + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }
}
