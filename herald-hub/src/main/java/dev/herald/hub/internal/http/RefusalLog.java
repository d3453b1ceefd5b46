package dev.herald.hub.internal.http;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * Keeps the refusal log readable in a storm: per reason code, the first refusal of an interval is
 * logged in full (by the caller, when {@link #admit} says so) and the others of that interval are
 * only counted, then logged as one line with the count when the interval ends (or at {@link
 * #flush}). Thousands of connections refused per second thus cost a few lines, and every refusal is
 * still in the log, named or counted.
 */
public final class RefusalLog {
  /** The default interval: one full line per reason per 10 s at most. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

  private final Logger log;
  private final long intervalNanos;
  private final String interval;
  private final LongSupplier nanos;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();

  /** One reason's current interval. */
  private static final class Window {
    final int status;
    long start;
    boolean open;
    int counted;
    boolean flushScheduled;

    Window(int status) {
      this.status = status;
    }
  }

  /** Logs to {@code log}, one full line per reason per {@code interval}. */
  public RefusalLog(Logger log, Duration interval) {
    this(log, interval, System::nanoTime);
  }

  RefusalLog(Logger log, Duration interval, LongSupplier nanos) {
    this.log = log;
    this.intervalNanos = interval.toNanos();
    this.interval =
        interval.toMillis() % 1000 == 0 ? interval.toSeconds() + " s" : interval.toMillis() + " ms";
    this.nanos = nanos;
  }

  /**
   * Records a refusal; returns whether the caller logs it in full (the first of its reason in the
   * interval). Otherwise it is counted, and its count is logged when the interval ends, on {@code
   * timer}.
   */
  public boolean admit(Refusal refusal, ScheduledExecutorService timer) {
    Window window =
        windows.computeIfAbsent(refusal.code(), code -> new Window(refusal.status().code()));
    boolean first;
    int ended = 0;
    long flushIn = -1;
    synchronized (window) {
      long now = nanos.getAsLong();
      first = !window.open || now - window.start >= intervalNanos;
      if (first) {
        ended = window.counted;
        window.counted = 0;
        window.start = now;
        window.open = true;
      } else {
        window.counted++;
        if (!window.flushScheduled) {
          window.flushScheduled = true;
          flushIn = window.start + intervalNanos - now;
        }
      }
    }
    if (ended > 0) {
      logCount(refusal.code(), window.status, ended);
    }
    if (flushIn >= 0) {
      try {
        timer.schedule(() -> flush(refusal.code(), window), flushIn, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        // The hub is stopping: its close flushes what is counted.
        synchronized (window) {
          window.flushScheduled = false;
        }
      }
    }
    return first;
  }

  /** Logs every count not logged yet (at shutdown). */
  public void flush() {
    windows.forEach(this::flush);
  }

  private void flush(String code, Window window) {
    int counted;
    synchronized (window) {
      counted = window.counted;
      window.counted = 0;
      window.flushScheduled = false;
    }
    if (counted > 0) {
      logCount(code, window.status, counted);
    }
  }

  private void logCount(String code, int status, int count) {
    log.info(
        "refused {} more: {} {} (repeats of a reason within {} are counted, not logged each)",
        count,
        status,
        code,
        interval);
  }
}
