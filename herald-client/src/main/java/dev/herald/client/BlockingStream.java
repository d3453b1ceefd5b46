package dev.herald.client;

import dev.herald.core.Event;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Spliterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The blocking side of {@link EventSource#events()}: a subscriber with a bounded queue that asks
 * for more only as the consumer takes events, so a slow consumer slows the network, not the heap.
 *
 * <p>With a {@code helped} executor (the source's own), the reading thread runs the source's tasks
 * itself while it waits: the bytes that arrive are parsed on it, and a window of events is asked
 * for only once the previous one is used up, just before it waits, so that the parsing the request
 * starts runs here too. Events then cross no thread at all, and a pool thread is woken only for
 * what arrives while the reader is busy elsewhere. Without one, every task runs on the source's
 * executor and the next window is asked for when half of the current one is taken, so parsing there
 * overlaps with reading here.
 */
final class BlockingStream implements Flow.Subscriber<Event>, Spliterator<Event> {
  /** How many events may wait for the consumer. */
  static final int CAPACITY = 64;

  private static final Object COMPLETE = new Object();

  /** The source's executor, whose tasks the reader may run while it waits; or null. */
  private final SerialExecutor helped;

  /** What the source delivered and the reader has not taken yet: events, then the end. */
  private final ArrayBlockingQueue<Object> delivered = new ArrayBlockingQueue<>(CAPACITY + 1);

  /** The reader's own share of {@link #delivered}, moved over in one go and read without locks. */
  private final ArrayDeque<Object> taking = new ArrayDeque<>(CAPACITY + 1);

  /** The reader while it is parked waiting for {@link #delivered}; null otherwise. */
  private volatile Thread waiting;

  private volatile Flow.Subscription subscription;
  private int taken;
  private Object terminal;

  private record Failure(Throwable error) {}

  BlockingStream(SerialExecutor helped) {
    this.helped = helped;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscription.request(CAPACITY);
  }

  @Override
  public void onNext(Event event) {
    if (!delivered.offer(event)) {
      throw new IllegalStateException("More events than requested: " + CAPACITY + " queued");
    }
    wake();
  }

  @Override
  public void onError(Throwable error) {
    delivered.offer(new Failure(error));
    wake();
  }

  @Override
  public void onComplete() {
    delivered.offer(COMPLETE);
    wake();
  }

  private void wake() {
    Thread reader = waiting;
    if (reader != null && reader != Thread.currentThread()) {
      LockSupport.unpark(reader);
    }
  }

  @Override
  public boolean tryAdvance(Consumer<? super Event> action) {
    if (terminal == null) {
      Object next = taking.poll();
      if (next == null) {
        next = await();
      }
      if (next instanceof Event) {
        // Ask for more in windows, not one by one: fewer hand-offs, same bound.
        if (++taken >= CAPACITY / 2 && helped == null) {
          subscription.request(taken);
          taken = 0;
        }
        action.accept((Event) next);
        return true;
      }
      terminal = next;
    }
    if (terminal instanceof Failure) {
      Throwable error = ((Failure) terminal).error();
      if (error instanceof RuntimeException) {
        throw (RuntimeException) error;
      }
      if (error instanceof IOException) {
        throw new UncheckedIOException(error.getMessage(), (IOException) error);
      }
      throw new IllegalStateException(error.getMessage(), error);
    }
    return false;
  }

  /** Waits for the next thing delivered, running the source's tasks meanwhile when allowed. */
  private Object await() {
    while (true) {
      if (delivered.drainTo(taking) > 0) {
        return taking.poll();
      }
      // Announce the wait before the last look, so that a delivery from now on wakes this thread.
      waiting = Thread.currentThread();
      if (helped != null) {
        helped.offerHelp();
        if (taken > 0) {
          // Asked for only now, so the request and the parsing it starts are handed to this thread.
          int n = taken;
          taken = 0;
          subscription.request(n);
        }
      }
      if (delivered.isEmpty() && (helped == null || !helped.handed())) {
        LockSupport.park(this);
      }
      waiting = null;
      if (Thread.interrupted()) {
        if (helped != null) {
          helped.withdrawHelpToPool();
        }
        Thread.currentThread().interrupt();
        throw new CancellationException("Interrupted while waiting for the next event");
      }
      if (helped != null) {
        helped.withdrawHelp();
      }
    }
  }

  @Override
  public Spliterator<Event> trySplit() {
    return null;
  }

  @Override
  public long estimateSize() {
    return Long.MAX_VALUE;
  }

  @Override
  public int characteristics() {
    return ORDERED | NONNULL;
  }
}
