package dev.herald.redis;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Whether Redis answers, for {@link RedisEventLog#isAvailable} (the hub's {@code /readyz}): an open
 * connection is not enough, since Redis may hang while its sockets stay open. It probes every
 * second with a cheap read of one key (on Cluster, so it asks the master that holds that key's
 * slot), one probe at a time, so answering costs nothing and a hang shows within about two seconds.
 */
final class Probe {
  /**
   * How often it probes, and the longest a probe may take (shorter with a shorter command timeout)
   * before Redis counts as hanging.
   */
  private static final long INTERVAL_MILLIS = 1000;

  private static final long TIMEOUT_MILLIS = 1000;

  private final Connections connections;
  private final String key;
  private final long timeoutNanos;

  /** When the probe in flight was sent (System.nanoTime), 0 when none is. */
  private final AtomicLong sentAt = new AtomicLong();

  /** Whether the last probe that completed was answered. */
  private volatile boolean answered = true;

  private volatile boolean closed;
  private final ScheduledFuture<?> probes;

  /** Starts probing {@code key}. */
  Probe(Connections connections, String key) {
    this.connections = connections;
    this.key = key;
    this.timeoutNanos =
        TimeUnit.MILLISECONDS.toNanos(Math.min(TIMEOUT_MILLIS, connections.timeoutMillis()));
    // Not on the worker: a catch-up may block it for a command timeout.
    this.probes =
        connections
            .scheduler()
            .scheduleWithFixedDelay(
                this::probe, INTERVAL_MILLIS, INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * Whether Redis answers: both connections are up, the last probe was answered, and none has been
   * waiting for an answer longer than a second (or the command timeout, if shorter).
   */
  boolean answers() {
    if (!connections.connection().isOpen() || !connections.pubSub().isOpen()) {
      return false;
    }
    long sent = sentAt.get();
    if (sent != 0 && System.nanoTime() - sent > timeoutNanos) {
      return false; // Redis hangs
    }
    return answered;
  }

  /** Stops probing. */
  void close() {
    closed = true;
    probes.cancel(false);
  }

  /** Sends a probe unless one is in flight. */
  private void probe() {
    long now = System.nanoTime();
    if (closed || !sentAt.compareAndSet(0, now == 0 ? 1 : now)) {
      return;
    }
    CompletableFuture<Long> answer;
    try {
      answer = connections.redis().exists(key).toCompletableFuture();
    } catch (RuntimeException e) {
      answer = null;
    }
    if (answer == null || answer.isCompletedExceptionally()) {
      // Refused unsent: the connection is down, which answers() sees anyway. Not an answer of
      // Redis, so it must not outlive the reconnect.
      sentAt.set(0);
      return;
    }
    answer.whenComplete(
        (exists, error) -> {
          answered = error == null;
          sentAt.set(0);
        });
  }
}
