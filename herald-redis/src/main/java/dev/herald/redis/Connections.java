package dev.herald.redis;

import dev.herald.core.internal.DaemonThreads;
import dev.herald.server.StoreUnavailableException;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What each Redis-backed part of a node (the {@link RedisEventLog}, the {@link RedisPresence})
 * holds of its own: a command connection, a Pub/Sub connection, and one worker thread for what must
 * run in order and off Lettuce's I/O threads (which deliver Pub/Sub messages and must never block).
 * Also how they wait for Redis and how they word its failures, so both say the same.
 */
final class Connections {
  private static final System.Logger LOG = System.getLogger(Connections.class.getName());

  private final Connector connector;
  private final String target;
  private final String owner;
  private final long timeoutMillis;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final StatefulRedisPubSubConnection<String, String> pubSub;
  private final ScheduledThreadPoolExecutor worker;

  /**
   * Connects both connections, then starts the worker thread.
   *
   * @param owner what these connections serve, for messages ("the Redis event log")
   * @param thread the worker thread's name
   * @throws StoreUnavailableException if Redis cannot be reached
   */
  Connections(String uri, Duration commandTimeout, String owner, String thread) {
    this.connector = new Connector(uri, commandTimeout);
    this.target = connector.target();
    this.owner = owner;
    this.timeoutMillis = commandTimeout.toMillis();
    Connector.Commands commands;
    try {
      commands = connector.commands();
      this.pubSub = connector.pubSub();
    } catch (RuntimeException e) {
      connector.close(); // closes the command connection too
      throw e;
    }
    this.connection = commands.connection();
    this.redis = commands.async();
    this.worker = new ScheduledThreadPoolExecutor(1, DaemonThreads.named(thread));
    // A closed owner's timers (sweeps, heartbeats, barrier deadlines) must not hold it up.
    worker.setRemoveOnCancelPolicy(true);
    worker.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
  }

  /** Where the connections go, for messages (see {@link Connector#target}). */
  String target() {
    return target;
  }

  /** The command timeout in milliseconds. */
  long timeoutMillis() {
    return timeoutMillis;
  }

  /** The commands, routed by key slot on Cluster. */
  RedisClusterAsyncCommands<String, String> redis() {
    return redis;
  }

  /** The command connection: Lettuce refuses commands while it is not open. */
  StatefulConnection<String, String> connection() {
    return connection;
  }

  /** The Pub/Sub connection. */
  StatefulRedisPubSubConnection<String, String> pubSub() {
    return pubSub;
  }

  /** The worker thread: one, so what runs on it runs in order. Stopped by {@link #close}. */
  ScheduledExecutorService worker() {
    return worker;
  }

  /**
   * The client's own scheduler, for short tasks that never block and must not queue behind the
   * worker (which may be blocked for a command timeout); see {@link Connector#scheduler}.
   */
  ScheduledExecutorService scheduler() {
    return connector.scheduler();
  }

  /** Runs {@code task} on the worker; once closed, drops it. */
  void execute(Runnable task) {
    try {
      worker.execute(task);
    } catch (RejectedExecutionException e) {
      LOG.log(Level.DEBUG, owner + " is closed; dropped a task");
    }
  }

  /**
   * Waits for Redis' answer, a little longer than the command timeout (Lettuce times the command
   * out first, with its own message).
   *
   * @throws StoreUnavailableException if Redis failed or did not answer
   */
  <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(timeoutMillis + 500, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreUnavailableException("interrupted while waiting for Redis to " + what, e);
    } catch (ExecutionException e) {
      throw unavailable(what, e.getCause());
    } catch (TimeoutException e) {
      throw new StoreUnavailableException(
          "Redis at " + target + " did not answer in time to " + what, e);
    }
  }

  /** The failure to report when Redis could not {@code what}: unavailable, naming Redis. */
  StoreUnavailableException unavailable(String what, Throwable cause) {
    if (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof StoreUnavailableException e) {
      return e;
    }
    return new StoreUnavailableException(
        "Redis at " + target + " is unavailable, could not " + what + ": " + cause.getMessage(),
        cause);
  }

  /**
   * Stops the worker: what is queued runs (bounded by about a command timeout), timers are dropped.
   * Idempotent.
   */
  void stopWorker() {
    worker.shutdown();
    try {
      if (!worker.awaitTermination(timeoutMillis + 1000, TimeUnit.MILLISECONDS)) {
        worker.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the worker, then closes both connections and the client. */
  void close() {
    stopWorker();
    try {
      pubSub.close();
      connection.close();
    } finally {
      connector.close();
    }
  }
}
