package dev.herald.server.internal;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import java.util.ArrayDeque;

/**
 * The bounded queue behind a transport's {@link Sink}: what the broker handed over and the client
 * has not taken yet, counted in the frames' bytes, and how the stream ends. The Servlet adapter's
 * sink and the Spring starter's WebFlux sink both hold one, so the two transports keep one rule for
 * the bound ({@link Sink#send} answers {@code false} past it), for back-pressure ({@link
 * Sink#writable} at half of it), and for a slow consumer (what is queued is dropped at once: it
 * resumes with its last id).
 *
 * <p>Not thread-safe: its owner guards it with the lock that guards the rest of its state. Not part
 * of Herald's API (the package is {@code internal}).
 *
 * @param <T> what is queued: raw frames, or what a transport made of them
 */
public final class SinkQueue<T> {
  private record Entry<T>(T item, int bytes) {}

  private final long maxBytes;
  private final ArrayDeque<Entry<T>> queue = new ArrayDeque<>();
  private long queuedBytes;
  private CloseReason closing;
  private boolean finished;

  /** A queue of at most {@code maxBytes} bytes of frames. */
  public SinkQueue(long maxBytes) {
    this.maxBytes = maxBytes;
  }

  /**
   * Whether the stream has ended or is ending: what is sent now is dropped, and {@link Sink#send}
   * answers {@code true}, since the broker has nothing to do about it.
   */
  public boolean ending() {
    return finished || closing != null;
  }

  /** Whether {@code bytes} more fit under the bound. */
  public boolean fits(int bytes) {
    return queuedBytes + bytes <= maxBytes;
  }

  /**
   * Queues {@code item}, counted as {@code bytes} (zero for the second and later items made of one
   * frame); the caller checked {@link #fits} and {@link #ending}.
   */
  public void add(T item, int bytes) {
    queue.add(new Entry<>(item, bytes));
    queuedBytes += bytes;
  }

  /** The oldest item, or {@code null} if none. */
  public T poll() {
    Entry<T> entry = queue.poll();
    if (entry == null) {
      return null;
    }
    queuedBytes -= entry.bytes();
    return entry.item();
  }

  /** Whether nothing is queued. */
  public boolean isEmpty() {
    return queue.isEmpty();
  }

  /** {@link Sink#writable}: at most half of the bound is queued. */
  public boolean writable() {
    return queuedBytes <= maxBytes / 2;
  }

  /**
   * The broker ends the stream ({@link Sink#closed}): remembers why, and drops what is queued for a
   * slow consumer, which could not take it anyway. Whether this was the first end.
   */
  public boolean close(CloseReason reason) {
    if (ending()) {
      return false;
    }
    closing = reason;
    if (reason == CloseReason.SLOW_CONSUMER) {
      clearQueue();
    }
    return true;
  }

  /** Why the broker ended the stream, or {@code null} while it has not. */
  public CloseReason closing() {
    return closing;
  }

  /** Whether the stream is over: its end written, or the connection gone. */
  public boolean finished() {
    return finished;
  }

  /** The stream is over: nothing queued will be written. */
  public void finish() {
    finished = true;
    clearQueue();
  }

  /** The stream's end is written; what is queued (nothing, normally) is dropped. */
  private void clearQueue() {
    queue.clear();
    queuedBytes = 0;
  }
}
