package dev.herald.client;

import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The read timeout: fails a connection that has waited for bytes longer than the timeout, because a
 * connection that went silent (a dead peer, a proxy that dropped it) would otherwise be waited on
 * for ever. Time spent not asking for bytes (a slow consumer) does not count, so a consumer that
 * takes its time is never mistaken for a dead server.
 *
 * <p>One task per connection at a time on the shared timer, rescheduled for the remaining time,
 * instead of one per read: thousands of sources cost a few queued tasks.
 */
final class ReadTimeout {
  private final ScheduledExecutorService timer;
  private final Executor serial;
  private final BiConsumer<Connection, HttpTimeoutException> expired;

  /**
   * @param expired what to do with a connection that timed out; runs on {@code serial}
   */
  ReadTimeout(
      ScheduledExecutorService timer,
      Executor serial,
      BiConsumer<Connection, HttpTimeoutException> expired) {
    this.timer = timer;
    this.serial = serial;
    this.expired = expired;
  }

  /** Watches {@code c} until it is cancelled, which also cancels the watch. */
  void arm(Connection c, Duration timeout) {
    long timeoutNanos = timeout.toNanos();
    c.watchdog(timer.schedule(() -> check(c, timeoutNanos), timeoutNanos, TimeUnit.NANOSECONDS));
  }

  private void check(Connection c, long timeoutNanos) {
    if (c.isCancelled()) {
      return;
    }
    long waited = c.waitedNanos(System.nanoTime());
    if (waited >= timeoutNanos) {
      HttpTimeoutException timeout =
          new HttpTimeoutException(
              "No data from "
                  + c.uri
                  + " for "
                  + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                  + " ms (read timeout)");
      serial.execute(() -> expired.accept(c, timeout));
      return;
    }
    long next = waited < 0 ? timeoutNanos : timeoutNanos - waited;
    c.watchdog(timer.schedule(() -> check(c, timeoutNanos), next, TimeUnit.NANOSECONDS));
  }
}
