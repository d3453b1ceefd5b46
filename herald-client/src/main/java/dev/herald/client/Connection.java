package dev.herald.client;

import dev.herald.core.SseParser;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledFuture;

/**
 * One connection attempt of a source, redirects included: the request it is making, the response
 * body it is reading and the parser of that body. A reconnection is a new {@code Connection}, so
 * nothing of a dropped connection (a half-received event, an unfinished {@code id:}) survives.
 *
 * <p>The fields without a lock are confined to the source's serial executor. {@link #cancel()} may
 * be called from any thread and tears the connection down at once: it cancels the request or the
 * body subscription, which closes the socket (an HTTP/1.1 connection whose body is abandoned is
 * never pooled).
 */
final class Connection {
  private static final long NOT_WAITING = Long.MIN_VALUE;

  // Serial-confined: what the next request of this attempt looks like (redirects change it).
  URI uri;
  String method;
  byte[] body;
  int redirects;
  boolean bodyHeadersDropped;
  boolean credentialsDropped;

  // Serial-confined: the open stream.
  SseParser parser;
  final ArrayDeque<ByteBuffer> pending = new ArrayDeque<>();
  boolean requested;
  boolean open;
  long openedAtNanos;

  /** Why the body ended, kept until the bytes that arrived before the end are parsed. */
  Throwable endCause;

  /** When the source started waiting for bytes; {@link #NOT_WAITING} while it is not. */
  private volatile long waitingSince = NOT_WAITING;

  private volatile boolean cancelled;
  private CompletableFuture<?> exchange;
  private Flow.Subscription subscription;
  private ScheduledFuture<?> watchdog;

  Connection(URI uri, String method, byte[] body) {
    this.uri = uri;
    this.method = method;
    this.body = body;
  }

  boolean isCancelled() {
    return cancelled;
  }

  /** Marks the start of a wait for the network: a request sent or more body bytes requested. */
  void waiting() {
    waitingSince = System.nanoTime();
  }

  /** Bytes arrived: the network is not what the source is waiting for now. */
  void notWaiting() {
    waitingSince = NOT_WAITING;
  }

  /** How long the source has been waiting for the network, in nanoseconds; -1 if it is not. */
  long waitedNanos(long now) {
    long since = waitingSince;
    return since == NOT_WAITING ? -1 : now - since;
  }

  synchronized void exchange(CompletableFuture<?> exchange) {
    if (cancelled) {
      exchange.cancel(true);
    } else {
      this.exchange = exchange;
    }
  }

  /** Takes the body subscription; returns false (having cancelled it) if already cancelled. */
  boolean subscription(Flow.Subscription subscription) {
    synchronized (this) {
      if (!cancelled) {
        this.subscription = subscription;
        return true;
      }
    }
    subscription.cancel();
    return false;
  }

  synchronized void watchdog(ScheduledFuture<?> watchdog) {
    if (cancelled) {
      watchdog.cancel(false);
    } else {
      this.watchdog = watchdog;
    }
  }

  /**
   * Asks for the next body buffers; false if there is no subscription (yet, or any more).
   * Serialised with {@link #cancel()}, as Flow requires.
   */
  synchronized boolean request() {
    if (cancelled || subscription == null) {
      return false;
    }
    waiting();
    subscription.request(1);
    return true;
  }

  /** Tears the connection down: idempotent, thread-safe, prompt. */
  void cancel() {
    CompletableFuture<?> exchange;
    Flow.Subscription subscription;
    ScheduledFuture<?> watchdog;
    synchronized (this) {
      if (cancelled) {
        return;
      }
      cancelled = true;
      exchange = this.exchange;
      subscription = this.subscription;
      watchdog = this.watchdog;
    }
    // Outside the lock: these may call back synchronously. No request() can run any more.
    if (watchdog != null) {
      watchdog.cancel(false);
    }
    if (subscription != null) {
      subscription.cancel();
    }
    if (exchange != null) {
      exchange.cancel(true);
    }
  }
}
