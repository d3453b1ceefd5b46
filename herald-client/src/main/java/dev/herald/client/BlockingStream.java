package dev.herald.client;

import dev.herald.core.Event;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Spliterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.function.Consumer;

/**
 * The blocking side of {@link EventSource#events()}: a subscriber with a bounded queue that asks
 * for more only as the consumer takes events, so a slow consumer slows the network, not the heap.
 */
final class BlockingStream implements Flow.Subscriber<Event>, Spliterator<Event> {
  /** How many events may wait for the consumer. */
  static final int CAPACITY = 64;

  private static final Object COMPLETE = new Object();

  private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(CAPACITY + 1);
  private volatile Flow.Subscription subscription;
  private int taken;
  private Object terminal;

  private record Failure(Throwable error) {}

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscription.request(CAPACITY);
  }

  @Override
  public void onNext(Event event) {
    if (!queue.offer(event)) {
      throw new IllegalStateException("More events than requested: " + CAPACITY + " queued");
    }
  }

  @Override
  public void onError(Throwable error) {
    queue.offer(new Failure(error));
  }

  @Override
  public void onComplete() {
    queue.offer(COMPLETE);
  }

  @Override
  public boolean tryAdvance(Consumer<? super Event> action) {
    if (terminal == null) {
      Object next;
      try {
        next = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        CancellationException cancelled =
            new CancellationException("Interrupted while waiting for the next event");
        cancelled.initCause(e);
        throw cancelled;
      }
      if (next instanceof Event) {
        // Ask for more in halves, not one by one: fewer hand-offs, same bound.
        if (++taken >= CAPACITY / 2) {
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
