package dev.herald.server.servlet;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import dev.herald.server.internal.SinkQueue;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import java.io.IOException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The inside of one Servlet event stream, never used directly: {@link EventStreams} (or {@link
 * EventStreamServlet}, through it) creates one per streaming request. It is the {@link Sink} the
 * broker writes to, and the non-blocking writer that drains its bounded queue to the response.
 *
 * <p>The broker's threads only queue frames and ask the container for a thread ({@link
 * AsyncContext#start}); the container's threads write while {@link ServletOutputStream#isReady}
 * holds, and resume in {@link #onWritePossible}. So no socket I/O ever runs on a publisher's
 * thread, and a flush covers every frame queued since the last one. All state is guarded by {@link
 * #lock}; the subscription is only ever closed with the lock released (the broker calls {@link
 * #closed} holding its own lock, so the other order would deadlock).
 */
final class AsyncResponseSink implements Sink, WriteListener, AsyncListener, Runnable {
  private static final System.Logger LOG = System.getLogger(EventStreams.class.getName());

  private final ReentrantLock lock = new ReentrantLock();

  // Guarded by lock.
  private final SinkQueue<byte[]> queue;
  private AsyncContext context;
  private ServletOutputStream out;
  private Subscription subscription;
  private boolean dispatched;
  private boolean needsFlush;
  // Set by the container's first onWritePossible. Until then nothing is dispatched: a write from
  // another thread before the container has taken the write listener runs in the container's
  // blocking mode, racing the request thread (Tomcat 11 then lost the opening comment, and the
  // stream stayed silent). That first call writes whatever was queued before it.
  private boolean containerWrote;

  AsyncResponseSink(long maxBytes, byte[] opening) {
    queue = new SinkQueue<>(maxBytes);
    queue.add(opening, opening.length);
  }

  /** Starts writing: the opening comment, then whatever the broker queued meanwhile. */
  void start(AsyncContext context, ServletOutputStream out, Subscription subscription) {
    lock.lock();
    try {
      this.context = context;
      this.out = out;
      this.subscription = subscription;
    } finally {
      lock.unlock();
    }
    context.addListener(this);
    // The container calls onWritePossible as soon as it can write.
    out.setWriteListener(this);
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
      queue.add(frame, frame.length);
      scheduleLocked();
      return true;
    } finally {
      lock.unlock();
    }
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
      if (queue.close(reason)) {
        scheduleLocked();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Asks the container for a thread to write on, unless one is already on its way. */
  private void scheduleLocked() {
    if (!containerWrote || dispatched || queue.finished()) {
      // Not started yet (the container's first onWritePossible writes everything queued), a
      // write already on its way, or nothing left to do.
      return;
    }
    dispatched = true;
    try {
      context.start(this);
    } catch (IllegalStateException e) {
      // The container already ended the request; its listener callbacks clean up.
      dispatched = false;
    }
  }

  /** The dispatched write. */
  @Override
  public void run() {
    lock.lock();
    try {
      dispatched = false;
    } finally {
      lock.unlock();
    }
    write();
  }

  @Override
  public void onWritePossible() {
    lock.lock();
    try {
      containerWrote = true;
    } finally {
      lock.unlock();
    }
    write();
  }

  /** Writes queued frames while the container can take them, then flushes; ends when asked to. */
  private void write() {
    boolean complete = false;
    boolean failed = false;
    boolean slow = false;
    CloseReason closing = null;
    lock.lock();
    try {
      if (queue.finished() || out == null) {
        return;
      }
      closing = queue.closing();
      try {
        if (queue.closing() == CloseReason.SLOW_CONSUMER) {
          // Nothing more is written to a client that does not read. The response ends as soon as
          // the container's write in progress, if any, is done (isReady() asks to be told), or
          // when the container's idle timeout fails it.
          if (out.isReady()) {
            queue.finish();
            complete = true;
            slow = true;
          }
        } else {
          while (out.isReady()) {
            byte[] frame = queue.poll();
            if (frame != null) {
              out.write(frame);
              needsFlush = true;
            } else if (needsFlush) {
              needsFlush = false;
              out.flush();
            } else {
              if (queue.closing() != null) {
                queue.finish();
                complete = true;
              }
              break;
            }
          }
        }
      } catch (IOException | IllegalStateException e) {
        LOG.log(System.Logger.Level.DEBUG, "event stream write failed", e);
        queue.finish();
        failed = true;
      }
    } finally {
      lock.unlock();
    }
    if (failed) {
      end(CloseReason.WRITE_FAILED);
    } else if (complete) {
      LOG.log(
          System.Logger.Level.DEBUG,
          slow ? "closing a slow event stream" : "event stream ended: {0}",
          closing);
      completeQuietly();
    }
  }

  @Override
  public void onError(Throwable t) {
    // WriteListener: the connection broke under a write.
    discardQueue();
    end(CloseReason.WRITE_FAILED);
  }

  @Override
  public void onComplete(AsyncEvent event) {
    discardQueue();
    // A no-op when the broker ended it; otherwise the request ended under us.
    closeSubscription(CloseReason.CLIENT_CLOSED);
  }

  /** The connection is gone: nothing queued can be written any more. */
  private void discardQueue() {
    lock.lock();
    try {
      queue.finish();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void onTimeout(AsyncEvent event) {
    onClientGone();
  }

  @Override
  public void onError(AsyncEvent event) {
    onClientGone();
  }

  @Override
  public void onStartAsync(AsyncEvent event) {
    // Not restarted: nothing to do.
  }

  private void onClientGone() {
    discardQueue();
    end(CloseReason.CLIENT_CLOSED);
  }

  /** Ends the subscription and the request; never with the lock held. */
  private void end(CloseReason reason) {
    closeSubscription(reason);
    completeQuietly();
  }

  private void closeSubscription(CloseReason reason) {
    Subscription current;
    lock.lock();
    try {
      current = subscription;
    } finally {
      lock.unlock();
    }
    if (current != null) {
      current.close(reason);
    }
  }

  private void completeQuietly() {
    AsyncContext current;
    lock.lock();
    try {
      current = context;
    } finally {
      lock.unlock();
    }
    try {
      current.complete();
    } catch (IllegalStateException e) {
      // Already completed by the container.
      LOG.log(System.Logger.Level.DEBUG, "async context already complete", e);
    }
  }
}
