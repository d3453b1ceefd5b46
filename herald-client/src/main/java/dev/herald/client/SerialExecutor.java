package dev.herald.client;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs tasks one at a time, in submission order, on a shared pool: the "one thread at a time" home
 * of a source's state and callbacks. It holds a pool thread only while it has work.
 *
 * <p>A thread that waits for what these tasks produce (the reader of {@link EventSource#events()})
 * may {@linkplain #offerHelp offer} to run them itself while it waits: work that arrives then is
 * handed to it instead of to the pool, which saves waking a pool thread and then the waiting thread
 * again for every batch of events.
 */
final class SerialExecutor implements Executor {
  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  /** In {@link #helper}: the duty to run the queued tasks, handed to the helper. */
  private static final Object HANDED = new Object();

  private final Executor pool;
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();

  /**
   * Tasks queued or running. Whoever raises it from zero owns the duty to run tasks until it is
   * back to zero, and either does so or passes the duty on (to the pool or the helper): so exactly
   * one thread at a time runs them.
   */
  private final AtomicInteger pending = new AtomicInteger();

  /** Null, the thread that offered to help and waits, or {@link #HANDED} once it has the duty. */
  private final AtomicReference<Object> helper = new AtomicReference<>();

  SerialExecutor(Executor pool) {
    this.pool = pool;
  }

  @Override
  public void execute(Runnable task) {
    tasks.add(task);
    if (pending.getAndIncrement() == 0) {
      Object waiting = helper.get();
      if (waiting instanceof Thread && helper.compareAndSet(waiting, HANDED)) {
        if (waiting != Thread.currentThread()) {
          LockSupport.unpark((Thread) waiting);
        }
      } else {
        submit();
      }
    }
  }

  /**
   * Offers the calling thread to run the tasks that arrive from now on, until it {@linkplain
   * #withdrawHelp withdraws}; it is then expected to wait (park) and to check {@link #handed()}
   * before and after. One helper at a time.
   */
  void offerHelp() {
    helper.set(Thread.currentThread());
  }

  /** Whether tasks were handed to the helper, which must now withdraw and run them. */
  boolean handed() {
    return helper.get() == HANDED;
  }

  /**
   * Withdraws the calling thread's offer; if tasks were handed to it meanwhile, runs them here, all
   * of them, before returning.
   */
  void withdrawHelp() {
    if (!helper.compareAndSet(Thread.currentThread(), null)) {
      helper.set(null);
      drain();
    }
  }

  /** Withdraws the calling thread's offer, giving tasks handed to it to the pool instead. */
  void withdrawHelpToPool() {
    if (!helper.compareAndSet(Thread.currentThread(), null)) {
      helper.set(null);
      submit();
    }
  }

  private void submit() {
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
