package dev.herald.server.servlet;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import java.io.IOException;
import java.util.ArrayDeque;
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
  private final long maxBytes;

  // Guarded by lock.
  private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
  private long queuedBytes;
  private AsyncContext context;
  private ServletOutputStream out;
  private Subscription subscription;
  private boolean dispatched;
  private boolean needsFlush;
  private CloseReason closing;
  private boolean finished;

  AsyncResponseSink(long maxBytes, byte[] opening) {
    this.maxBytes = maxBytes;
    queue.add(opening);
    queuedBytes = opening.length;
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
      if (finished || closing != null) {
        return true;
      }
      if (queuedBytes + frame.length > maxBytes) {
        return false;
      }
      queue.add(frame);
      queuedBytes += frame.length;
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
      return queuedBytes <= maxBytes / 2;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void closed(CloseReason reason) {
    lock.lock();
    try {
      if (finished || closing != null) {
        return;
      }
      closing = reason;
      if (reason == CloseReason.SLOW_CONSUMER) {
        // It cannot take what is queued anyway: free it now. It resumes with its last id.
        queue.clear();
        queuedBytes = 0;
      }
      scheduleLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Asks the container for a thread to write on, unless one is already on its way. */
  private void scheduleLocked() {
    if (context == null || dispatched || finished) {
      // Not started yet (start() writes everything queued) or nothing left to do.
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
    write();
  }

  /** Writes queued frames while the container can take them, then flushes; ends when asked to. */
  private void write() {
    boolean complete = false;
    boolean failed = false;
    boolean slow = false;
    lock.lock();
    try {
      if (finished || out == null) {
        return;
      }
      try {
        if (closing == CloseReason.SLOW_CONSUMER) {
          // Nothing more is written to a client that does not read. The response ends as soon as
          // the container's write in progress, if any, is done (isReady() asks to be told), or
          // when the container's idle timeout fails it.
          if (out.isReady()) {
            finished = true;
            complete = true;
            slow = true;
          }
        } else {
          while (out.isReady()) {
            byte[] frame = queue.poll();
            if (frame != null) {
              queuedBytes -= frame.length;
              out.write(frame);
              needsFlush = true;
            } else if (needsFlush) {
              needsFlush = false;
              out.flush();
            } else {
              if (closing != null) {
                finished = true;
                complete = true;
              }
              break;
            }
          }
        }
      } catch (IOException | IllegalStateException e) {
        LOG.log(System.Logger.Level.DEBUG, "event stream write failed", e);
        finished = true;
        failed = true;
        queue.clear();
        queuedBytes = 0;
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
      finished = true;
      queue.clear();
      queuedBytes = 0;
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
