package dev.herald.bench.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Samples a server's memory while a benchmark runs: the summed VmRSS of its processes every {@code
 * periodMillis}, and, for a JVM, the used heap (survivors + eden + old, from {@code jstat -gc}, a
 * child process attached once) every second. {@link #liveHeapKb} forces a full GC ({@code jcmd
 * GC.run}) and reads the heap after it: the live set, which a leak makes grow.
 */
final class ProcessWatch implements AutoCloseable {
  private final List<String> pids;
  private final Thread sampler;
  private final Process jstat;
  private final Thread jstatReader;
  private volatile boolean stopped;
  private final long startNanos = System.nanoTime();
  // Guarded by this.
  private long peakRssKb;
  private long peakHeapKb;
  private final List<long[]> rssSamples = new ArrayList<>();

  ProcessWatch(List<String> pids, boolean java, long periodMillis) throws IOException {
    this.pids = pids;
    sampler =
        new Thread(
            () -> {
              while (!stopped) {
                long kb = rssKb(pids);
                synchronized (this) {
                  peakRssKb = Math.max(peakRssKb, kb);
                  rssSamples.add(new long[] {(System.nanoTime() - startNanos) / 1_000_000, kb});
                }
                try {
                  Thread.sleep(periodMillis);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "rss-sampler");
    sampler.setDaemon(true);
    sampler.start();
    if (java && !pids.isEmpty()) {
      jstat =
          new ProcessBuilder("jstat", "-gc", pids.get(0), "1000").redirectErrorStream(true).start();
      jstatReader = new Thread(this::readJstat, "jstat-reader");
      jstatReader.setDaemon(true);
      jstatReader.start();
    } else {
      jstat = null;
      jstatReader = null;
    }
  }

  private void readJstat() {
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(jstat.getInputStream(), StandardCharsets.UTF_8))) {
      List<String> header = null;
      String line;
      while ((line = r.readLine()) != null) {
        String[] cols = line.trim().split("\\s+");
        if (cols.length > 0 && cols[0].equals("S0C")) {
          header = Arrays.asList(cols);
          continue;
        }
        if (header == null || cols.length != header.size()) {
          continue;
        }
        double used = 0;
        for (String c : List.of("S0U", "S1U", "EU", "OU")) {
          used += Double.parseDouble(cols[header.indexOf(c)]);
        }
        synchronized (this) {
          peakHeapKb = Math.max(peakHeapKb, (long) used);
        }
      }
    } catch (IOException | RuntimeException e) {
      // jstat went away with its JVM: no more heap samples.
    }
  }

  synchronized long peakRssKb() {
    return peakRssKb;
  }

  synchronized long peakHeapKb() {
    return peakHeapKb;
  }

  /** The RSS samples so far: {milliseconds since start, KiB}. */
  synchronized List<long[]> rssSamples() {
    return new ArrayList<>(rssSamples);
  }

  /** Resets the peaks (e.g. after the idle baseline). */
  synchronized void resetPeaks() {
    peakRssKb = 0;
    peakHeapKb = 0;
  }

  long rssKb() {
    return rssKb(pids);
  }

  /** Heap in use right after a full GC, KiB; -1 when it cannot be read. */
  long liveHeapKb() {
    if (pids.isEmpty()) {
      return -1;
    }
    try {
      run("jcmd", pids.get(0), "GC.run");
      // "garbage-first heap   total 262144K, used 21504K" / "PSYoungGen total ..., used ..."
      long used = 0;
      boolean any = false;
      for (String l : run("jcmd", pids.get(0), "GC.heap_info")) {
        java.util.regex.Matcher m =
            java.util.regex.Pattern.compile("^\\s*(\\S+).*total \\d+K, used (\\d+)K").matcher(l);
        if (m.find() && !m.group(1).equals("Metaspace") && !m.group(1).equals("class")) {
          used += Long.parseLong(m.group(2));
          any = true;
        }
      }
      return any ? used : -1;
    } catch (IOException | InterruptedException e) {
      return -1;
    }
  }

  private static List<String> run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<String> lines = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String l;
      while ((l = r.readLine()) != null) {
        lines.add(l);
      }
    }
    p.waitFor(30, TimeUnit.SECONDS);
    return lines;
  }

  static long rssKb(List<String> pids) {
    long sum = 0;
    for (String pid : pids) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
          if (line.startsWith("VmRSS:")) {
            sum += Long.parseLong(line.replaceAll("[^0-9]", ""));
          }
        }
      } catch (IOException e) {
        // the process is gone: it holds nothing
      }
    }
    return sum;
  }

  @Override
  public void close() {
    stopped = true;
    sampler.interrupt();
    if (jstat != null) {
      jstat.destroy();
    }
  }
}
