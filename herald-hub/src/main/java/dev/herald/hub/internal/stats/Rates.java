package dev.herald.hub.internal.stats;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Per-second rates of two ever-growing counts, from samples taken when someone asks (a console
 * polling {@code /stats}): nothing runs in the background and nothing touches the publish path. A
 * rate is measured against the newest earlier sample at least {@value #MIN_WINDOW_SECONDS} second
 * old, else against the oldest one kept (the first answers after start cover what is there);
 * samples older than {@value #MAX_AGE_SECONDS} s, or beyond {@value #MAX_SAMPLES}, are dropped, so
 * the memory is bounded however often it is asked.
 */
final class Rates {
  static final int MIN_WINDOW_SECONDS = 1;
  static final int MAX_AGE_SECONDS = 10;
  static final int MAX_SAMPLES = 256;

  private record Sample(long nanos, long published, long delivered) {}

  /**
   * Rates over a window.
   *
   * @param published events published per second
   * @param delivered frames delivered per second
   * @param windowSeconds the window they were measured over (0: no earlier sample yet)
   */
  record Rate(double published, double delivered, double windowSeconds) {}

  private final ArrayDeque<Sample> samples = new ArrayDeque<>();

  /** Starts with the counts at {@code nanos}. */
  Rates(long nanos, long published, long delivered) {
    samples.addLast(new Sample(nanos, published, delivered));
  }

  /** How many samples are kept. */
  synchronized int size() {
    return samples.size();
  }

  /** Records the counts at {@code nanos} (a {@link System#nanoTime()}) and the rates up to it. */
  synchronized Rate sample(long nanos, long published, long delivered) {
    long minWindow = TimeUnit.SECONDS.toNanos(MIN_WINDOW_SECONDS);
    Sample base = samples.peekFirst();
    for (Sample s : samples) {
      if (nanos - s.nanos >= minWindow) {
        base = s; // the samples are in time order: the last one that qualifies is the newest
      }
    }
    samples.addLast(new Sample(nanos, published, delivered));
    long maxAge = TimeUnit.SECONDS.toNanos(MAX_AGE_SECONDS);
    while (samples.size() > MAX_SAMPLES
        || (samples.size() > 1 && nanos - samples.peekFirst().nanos > maxAge)) {
      samples.removeFirst();
    }
    long elapsed = nanos - base.nanos;
    if (elapsed <= 0) {
      return new Rate(0, 0, 0);
    }
    double seconds = elapsed / 1e9;
    return new Rate(
        (published - base.published) / seconds, (delivered - base.delivered) / seconds, seconds);
  }
}
