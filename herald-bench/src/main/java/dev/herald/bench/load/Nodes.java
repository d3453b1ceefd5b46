package dev.herald.bench.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts and stops server nodes through a control command given by the benchmark's script (for
 * example {@code storm.sh node herald DIR}): {@code CMD start I} starts node I, waits until it
 * listens and prints its pids (comma-separated) on the last line; {@code CMD stop I PIDS SIGNAL}
 * stops it and waits until its processes are gone. The script knows how each server is run.
 */
final class Nodes {
  private final String control;
  private final List<List<String>> pids = new ArrayList<>();

  Nodes(String control, int count) {
    this.control = control;
    for (int i = 0; i < count; i++) {
      pids.add(List.of());
    }
  }

  /** Starts node {@code i}; returns how long until it listened, in milliseconds. */
  long start(int i) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    List<String> out = run(control + " start " + i);
    String last = out.isEmpty() ? "" : out.get(out.size() - 1).trim();
    if (!last.matches("\\d+(,\\d+)*")) {
      throw new IllegalStateException("node " + i + " did not start: " + out);
    }
    pids.set(i, Arrays.asList(last.split(",")));
    return (System.nanoTime() - t0) / 1_000_000;
  }

  /** Stops node {@code i} with {@code signal} (TERM or KILL); returns milliseconds until gone. */
  long stop(int i, String signal) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    run(control + " stop " + i + " " + String.join(",", pids.get(i)) + " " + signal);
    pids.set(i, List.of());
    return (System.nanoTime() - t0) / 1_000_000;
  }

  List<String> pids(int i) {
    return pids.get(i);
  }

  private static List<String> run(String command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder("bash", "-c", command)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    List<String> lines = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String l;
      while ((l = r.readLine()) != null) {
        lines.add(l);
      }
    }
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("failed: " + command + " " + lines);
    }
    return lines;
  }
}
