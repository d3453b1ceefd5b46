package dev.herald.server;

import dev.herald.core.internal.DaemonThreads;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs the replay steps of subscriptions: a few threads whatever the number of subscriptions (each
 * step reads one page and submits the next, so replays share them fairly), and the broker's
 * scheduler for steps that wait.
 */
final class Replays {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  private final ThreadPoolExecutor pool;
  private final ScheduledExecutorService scheduler;

  Replays(ScheduledExecutorService scheduler) {
    this.scheduler = scheduler;
    int threads = Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
    this.pool =
        new ThreadPoolExecutor(
            threads,
            threads,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            DaemonThreads.named("herald-broker-replay"));
    pool.allowCoreThreadTimeOut(true);
  }

  /** Runs (or continues) a subscription's replay on a replay thread. */
  void run(BrokerSubscription subscription) {
    try {
      pool.execute(subscription::replayStep);
    } catch (RejectedExecutionException e) {
      // Only after close() began: it ends the subscription with SHUTDOWN.
      LOG.log(System.Logger.Level.DEBUG, "replay refused: the broker is closing");
    }
  }

  /** Runs other broker work that may wait for the store (a subscribe's first reads). */
  void execute(Runnable task) {
    pool.execute(task);
  }

  /** Continues a replay after {@code delayMillis}. */
  void runLater(BrokerSubscription subscription, long delayMillis) {
    try {
      ScheduledFuture<?> unused =
          scheduler.schedule(() -> run(subscription), delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      LOG.log(System.Logger.Level.DEBUG, "replay refused: the broker is closing");
    }
  }

  /** Lets running steps finish (they find their subscriptions closed), within 5 s. */
  void close() {
    pool.shutdown();
    try {
      if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
        LOG.log(System.Logger.Level.WARNING, "replay threads did not stop within 5 s");
        pool.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
