package dev.herald.spring.boot.internal;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import dev.herald.server.internal.SinkQueue;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.FluxSink;
import reactor.core.scheduler.Scheduler;

/**
 * The {@link Sink} of one WebFlux stream: the broker queues frames in a bounded queue (counted in
 * the frames' bytes), and Reactor's demand drains it into the {@link FluxSink}. Nothing is emitted
 * beyond what the response writer requested, so a client that stops reading stops the demand, the
 * queue fills, {@link #send} answers {@code false}, and the broker closes the subscription as
 * {@link CloseReason#SLOW_CONSUMER}: the queue is dropped and the flux completes. Memory per stream
 * is bounded by the queue's bound plus what the server itself requested.
 *
 * <p>Broker threads never emit: they queue and hand the draining to {@code scheduler}, so a
 * publisher's fan-out never runs WebFlux's encoding and writes. Draining is serialised (one thread
 * at a time), and never emits before the subscription is {@linkplain #attach attached}: the opening
 * comment, which commits the response head, follows the subscription, so an event published after
 * the client sees the stream open is delivered.
 */
public final class FluxStreamSink implements Sink {
  private final FluxSink<ServerSentEvent<String>> emitter;
  private final FrameDecoder decoder;
  private final Scheduler scheduler;
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final ReentrantLock lock = new ReentrantLock();

  // Guarded by lock.
  private final SinkQueue<ServerSentEvent<String>> queue;
  private Subscription subscription;
  private boolean disposed;

  /**
   * A sink draining into {@code emitter}, with {@code opening} queued first.
   *
   * @param maxBytes the most bytes of frames that may wait for the client
   */
  public FluxStreamSink(
      FluxSink<ServerSentEvent<String>> emitter,
      long maxBytes,
      FrameDecoder decoder,
      Scheduler scheduler,
      ServerSentEvent<String> opening) {
    this.emitter = emitter;
    this.queue = new SinkQueue<>(maxBytes);
    this.decoder = decoder;
    this.scheduler = scheduler;
    queue.add(opening, 0);
    emitter.onRequest(n -> drain());
    // Cancelled by the response writer (the client went away), completed, or failed: in every case
    // the subscription ends, unless it already has.
    emitter.onDispose(this::disposed);
  }

  /** Starts emitting: the subscription is registered with the broker. */
  public void attach(Subscription subscription) {
    boolean gone;
    lock.lock();
    try {
      this.subscription = subscription;
      gone = disposed;
    } finally {
      lock.unlock();
    }
    if (gone) {
      subscription.close();
      return;
    }
    drain();
  }

  @Override
  public boolean send(byte[] frame) {
    lock.lock();
    try {
      if (queue.ending()) {
        return true;
      }
      if (!queue.fits(frame.length)) {
        return false;
      }
    } finally {
      lock.unlock();
    }
    // Parsed outside the lock: the decoder shares one parse between every stream of the event.
    List<ServerSentEvent<String>> events = decoder.decode(frame);
    lock.lock();
    try {
      if (queue.ending()) {
        return true;
      }
      int bytes = frame.length;
      for (ServerSentEvent<String> event : events) {
        queue.add(event, bytes);
        bytes = 0;
      }
    } finally {
      lock.unlock();
    }
    scheduleDrain();
    return true;
  }

  @Override
  public boolean writable() {
    lock.lock();
    try {
      return queue.writable();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void closed(CloseReason reason) {
    lock.lock();
    try {
      if (!queue.close(reason)) {
        return;
      }
    } finally {
      lock.unlock();
    }
    scheduleDrain();
  }

  private void disposed() {
    Subscription current;
    lock.lock();
    try {
      disposed = true;
      queue.finish();
      current = subscription;
    } finally {
      lock.unlock();
    }
    // Never with the lock held: the broker calls closed() holding its own.
    if (current != null) {
      current.close(CloseReason.CLIENT_CLOSED);
    }
  }

  /** Drains on the scheduler, unless a drain is already on its way. */
  private void scheduleDrain() {
    if (drainScheduled.compareAndSet(false, true)) {
      try {
        scheduler.schedule(
            () -> {
              drainScheduled.set(false);
              drain();
            });
      } catch (RejectedExecutionException e) {
        // The scheduler is shut down (the application is stopping): drain here.
        drainScheduled.set(false);
        drain();
      }
    }
  }

  /** Emits what is queued, as far as the demand goes; completes once closed and drained. */
  private void drain() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    do {
      while (true) {
        ServerSentEvent<String> next = null;
        boolean complete = false;
        lock.lock();
        try {
          if (subscription != null && !queue.finished()) {
            if (!queue.isEmpty()) {
              if (emitter.requestedFromDownstream() > 0) {
                next = queue.poll();
              }
            } else if (queue.closing() != null) {
              queue.finish();
              complete = true;
            }
          }
        } finally {
          lock.unlock();
        }
        if (next != null) {
          emitter.next(next);
        } else {
          if (complete) {
            emitter.complete();
          }
          break;
        }
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }
}
