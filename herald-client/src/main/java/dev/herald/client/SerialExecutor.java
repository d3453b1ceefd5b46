package dev.herald.client;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs tasks one at a time, in submission order, on a shared pool: the "one thread at a time" home
 * of a source's state and callbacks. It holds a pool thread only while it has work.
 */
final class SerialExecutor implements Executor {
  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Executor pool;
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pending = new AtomicInteger();

  SerialExecutor(Executor pool) {
    this.pool = pool;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
    if (pending.getAndIncrement() == 0) {
      try {
        pool.execute(this::drain);
      } catch (RejectedExecutionException e) {
        // A user-supplied executor that refuses work must not strand the source's tasks.
        LOG.log(
            System.Logger.Level.WARNING,
            "Executor refused an event source task; running it inline",
            e);
        drain();
      }
    }
  }

  private void drain() {
    do {
      Runnable task = tasks.poll();
      try {
        task.run();
      } catch (Throwable t) {
        LOG.log(System.Logger.Level.ERROR, "Unexpected failure in an event source task", t);
      }
    } while (pending.decrementAndGet() != 0);
  }
}
