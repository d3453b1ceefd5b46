package dev.herald.bench.load;

import io.netty.channel.epoll.EpollEventLoopGroup;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The compressed soak (issue 19): for --seconds (1800) at once, steady publishes, random
 * reconnects, slow readers and node restarts, with the exact invariants of {@link Resumers} checked
 * on every event, and the memory of the node that is never restarted sampled throughout.
 *
 * <ul>
 *   <li>Nodes: node 0 runs the whole soak (its memory is what must stay flat); node 1, when there
 *       are two (--ports P0,P1, the same Redis store and key prefix), is restarted every
 *       --restart-every seconds, by SIGTERM and by SIGKILL in turn, and stays down 5 s. With one
 *       node (e.g. on SQLite), node 0 is the one restarted and the memory check is left out.
 *   <li>Subscribers (--subs over --topics topics, --slow-fraction of them reading every 2 s through
 *       a 4 KiB socket buffer) resume with {@code Last-Event-ID}; their streams move to the other
 *       node when theirs is down. --drops-per-second random streams are cut each second.
 *   <li>Publishers: --rate events/s over all topics, one in flight per topic ({@link
 *       SequencedPublishers}).
 *   <li>Every --sample-every seconds: RSS of each node; every 6 samples the live heap of node 0
 *       (after a forced full GC). At the end the publisher stops and every subscriber must reach
 *       its topic's last acknowledged event within 60 s.
 * </ul>
 *
 * <p>Fails (exit 1) on any violation (an acknowledged event skipped without a reset, a duplicate, a
 * refused event delivered), on a subscriber that never catches up, or when node 0's live heap grows
 * by more than --max-heap-growth-mb (16) from the first quarter of the run to the last, or its RSS
 * by more than --max-rss-growth-mb (128) over the second half (least-squares slope times the time).
 */
public final class Soak {
  private final Map<String, String> opts;
  private final Map<String, Object> result = new LinkedHashMap<>();

  private Soak(Map<String, String> opts) {
    this.opts = opts;
  }

  /**
   * Runs the soak and prints progress lines, a RESULT line and a JSON line.
   *
   * @param args {@code --name value} options
   * @throws Exception on any failure
   */
  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Soak soak = new Soak(opts);
    int code = soak.run();
    Storm.emit(soak.result, opts.get("json"));
    System.exit(code);
  }

  private double num(String name, double dflt) {
    return Double.parseDouble(opts.getOrDefault(name, String.valueOf(dflt)));
  }

  private int run() throws Exception {
    Target target = Target.valueOf(opts.getOrDefault("target", "herald").toUpperCase(Locale.ROOT));
    String[] portList = opts.get("ports").split(",");
    int[] ports = new int[portList.length];
    for (int i = 0; i < ports.length; i++) {
      ports[i] = Integer.parseInt(portList[i]);
    }
    long seconds = (long) num("seconds", 1800);
    int n = (int) num("subs", 2000);
    int topics = (int) num("topics", 200);
    double rate = num("rate", 200);
    double dropsPerSecond = num("drops-per-second", 5);
    long restartEvery = (long) num("restart-every", 120);
    long sampleEvery = (long) num("sample-every", 10);
    boolean flatCheck = ports.length > 1;
    int restarted = ports.length > 1 ? 1 : 0;
    result.put("scenario", "soak");
    result.put("label", opts.getOrDefault("label", "herald"));
    result.put("nodes", ports.length);
    result.put("seconds", seconds);
    result.put("subscribers", n);
    result.put("topics", topics);
    result.put("rate", rate);
    Nodes nodes = new Nodes(opts.get("control"), ports.length);
    Ledger ledger = new Ledger(topics);
    EpollEventLoopGroup group = new EpollEventLoopGroup((int) num("threads", 2));
    Resumers subs = new Resumers(group, target, ports, ledger);
    SequencedPublishers pub = new SequencedPublishers(target, ports, ledger, 8);
    List<long[]> rss = new ArrayList<>(); // {seconds, node-0 KiB}
    List<long[]> liveHeap = new ArrayList<>(); // {seconds, KiB}
    Random random = new Random(Long.parseLong(opts.getOrDefault("seed", "19")));
    ProcessWatch watch = null;
    try {
      for (int i = 0; i < ports.length; i++) {
        nodes.start(i);
      }
      watch = new ProcessWatch(nodes.pids(0), false, 1000);
      subs.add(n, num("slow-fraction", 0.05));
      subs.connect(subs.subs);
      Storm.waitFor(() -> subs.open() >= n, 120_000);
      result.put("opened", subs.open());
      pub.start(rate, Long.MAX_VALUE);
      long t0 = System.nanoTime();
      long nextRestart = restartEvery;
      long nextSample = 0;
      int restarts = 0;
      int samples = 0;
      int behindMax = 0;
      long[] checkpoint = null;
      long elapsed;
      while ((elapsed = (System.nanoTime() - t0) / 1_000_000_000L) < seconds) {
        for (int d = 0; d < dropsPerSecond; d++) {
          Resumers.Sub s = subs.subs.get(random.nextInt(n));
          s.port++;
          subs.drop(s);
        }
        if (restartEvery > 0 && elapsed >= nextRestart) {
          String signal = restarts % 2 == 0 ? "TERM" : "KILL";
          long endsBefore = subs.cleanEnds.sum() + subs.abruptEnds.sum();
          long stopMs = nodes.stop(restarted, signal);
          // streams that ended while the node stopped (a random drop or so may be among them)
          long cut = subs.cleanEnds.sum() + subs.abruptEnds.sum() - endsBefore;
          Thread.sleep(5000);
          long startMs = nodes.start(restarted);
          pub.rebalance();
          restarts++;
          Storm.log(
              "restart "
                  + restarts
                  + " of node "
                  + restarted
                  + " ("
                  + signal
                  + "): stopped in "
                  + stopMs
                  + " ms, listening after "
                  + startMs
                  + " ms; streams ended meanwhile: "
                  + cut);
          nextRestart += restartEvery;
          if (restarted == 0) {
            watch.close();
            watch = new ProcessWatch(nodes.pids(0), false, 1000);
          }
        }
        if (elapsed >= nextSample) {
          long kb = watch.rssKb();
          rss.add(new long[] {elapsed, kb});
          if (flatCheck && samples % 6 == 0) {
            liveHeap.add(new long[] {elapsed, watch.liveHeapKb()});
          }
          // Those not caught up with the acknowledgements of one sample ago (10 s by default).
          int behind = checkpoint == null ? 0 : n - subs.resumedTo(checkpoint);
          behindMax = Math.max(behindMax, behind);
          checkpoint = pub.acked();
          long[] totals = ledger.totals();
          Storm.log(
              String.format(
                  "t=%ds node0 rss=%d MiB%s open=%d behind=%d delivered=%d acked=%d"
                      + " unanswered=%d refused=%d resets=%d shed=%d non200=%d violations=%d",
                  elapsed,
                  kb / 1024,
                  liveHeap.isEmpty() || !flatCheck
                      ? ""
                      : " liveHeap=" + liveHeap.get(liveHeap.size() - 1)[1] / 1024 + " MiB",
                  subs.open(),
                  behind,
                  subs.delivered.sum(),
                  totals[0],
                  totals[1],
                  totals[2],
                  subs.resets.sum(),
                  subs.shed.sum(),
                  subs.non200.sum(),
                  subs.violationCount()));
          samples++;
          nextSample = (elapsed / sampleEvery + 1) * sampleEvery; // missed ones are skipped
          if (subs.violationCount() > 0) {
            break; // fail early: the log above has the first violations
          }
        }
        Thread.sleep(1000);
      }
      result.put("ranSeconds", (System.nanoTime() - t0) / 1_000_000_000L);
      result.put("restarts", restarts);
      pub.stop(10_000);
      long[] all = pub.acked();
      boolean complete = Storm.waitFor(() -> subs.resumedTo(all) >= n, 60_000);
      long[] totals = ledger.totals();
      result.put("publishedAcked", totals[0]);
      result.put("publishedUnanswered", totals[1]);
      result.put("publishedRefused", totals[2]);
      result.put("delivered", subs.delivered.sum());
      result.put("streams", subs.streams.sum());
      result.put("complete", subs.resumedTo(all));
      result.put("lostForGood", n - subs.resumedTo(all));
      result.put("behindMax", behindMax);
      result.put("duplicates", subs.duplicates.sum());
      result.put("gaps", subs.gaps.sum());
      result.put("deliveredRefused", subs.deliveredRefused.sum());
      result.put("resets", subs.resets.sum());
      result.put("shed", subs.shed.sum());
      result.put("non200", subs.non200.sum());
      result.put("violations", subs.violationCount());
      subs.violations().forEach(v -> Storm.log("violation: " + v));
      boolean ok = complete && subs.violationCount() == 0;
      if (flatCheck) {
        ok &= memory(rss, liveHeap);
      }
      result.put("ok", ok);
      return ok ? 0 : 1;
    } finally {
      if (watch != null) {
        watch.close();
      }
      subs.closeAll();
      pub.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      for (int i = 0; i < ports.length; i++) {
        try {
          nodes.stop(i, "TERM");
        } catch (RuntimeException e) {
          Storm.log("stopping node " + i + ": " + e.getMessage());
        }
      }
    }
  }

  /** Reports node 0's memory trend; false when it grew beyond the bounds. */
  private boolean memory(List<long[]> rss, List<long[]> liveHeap) {
    List<long[]> secondHalf = rss.subList(rss.size() / 2, rss.size());
    double rssSlope = slope(secondHalf); // KiB per second
    double span =
        secondHalf.isEmpty() ? 0 : secondHalf.get(secondHalf.size() - 1)[0] - secondHalf.get(0)[0];
    long rssGrowthKb = Math.round(rssSlope * span);
    result.put("rssFirstKb", rss.isEmpty() ? -1 : rss.get(0)[1]);
    result.put("rssLastKb", rss.isEmpty() ? -1 : rss.get(rss.size() - 1)[1]);
    result.put("rssMaxKb", rss.stream().mapToLong(r -> r[1]).max().orElse(-1));
    result.put("rssSlopeSecondHalfKbPerMin", Math.round(rssSlope * 60));
    result.put("rssGrowthSecondHalfKb", rssGrowthKb);
    List<long[]> heap = liveHeap.stream().filter(h -> h[1] >= 0).toList();
    int quarter = Math.max(1, heap.size() / 4);
    double firstQuarter =
        heap.subList(0, Math.min(quarter, heap.size())).stream()
            .mapToLong(h -> h[1])
            .average()
            .orElse(0);
    double lastQuarter =
        heap.subList(Math.max(0, heap.size() - quarter), heap.size()).stream()
            .mapToLong(h -> h[1])
            .average()
            .orElse(0);
    long heapGrowthKb = Math.round(lastQuarter - firstQuarter);
    result.put("liveHeapSamplesKb", heap.stream().map(h -> h[1]).toList());
    result.put("liveHeapSlopeKbPerMin", Math.round(slope(heap) * 60));
    result.put("liveHeapGrowthKb", heapGrowthKb);
    boolean ok =
        heapGrowthKb <= num("max-heap-growth-mb", 16) * 1024
            && rssGrowthKb <= num("max-rss-growth-mb", 128) * 1024;
    result.put("memoryFlat", ok);
    return ok;
  }

  /** Least-squares slope of {x, y} points (y per x); 0 for fewer than two. */
  static double slope(List<long[]> points) {
    int n = points.size();
    if (n < 2) {
      return 0;
    }
    double mx = points.stream().mapToDouble(p -> p[0]).average().orElse(0);
    double my = points.stream().mapToDouble(p -> p[1]).average().orElse(0);
    double num = 0;
    double den = 0;
    for (long[] p : points) {
      num += (p[0] - mx) * (p[1] - my);
      den += (p[0] - mx) * (p[0] - mx);
    }
    return den == 0 ? 0 : num / den;
  }
}
