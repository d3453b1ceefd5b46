package dev.herald.client;

import dev.herald.core.Event;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/**
 * Receives what an {@link EventSource} sees. Only {@link #onEvent} must be implemented, so a lambda
 * will do.
 *
 * <p>All callbacks of one source run one at a time and in order, on that source's executor
 * (default: a shared pool of daemon threads), never concurrently with each other. The order is
 * {@code onOpen}, then events and comments as they arrive; after a failure {@code onError}, then
 * again {@code onOpen} if the source reconnects; finally {@code onClosed}, exactly once. While a
 * callback runs, the source reads nothing more from its connection. A callback may call {@link
 * EventSource#close()} or {@link EventSource#restart()}. An exception a callback throws is logged
 * and otherwise ignored.
 */
@FunctionalInterface
public interface EventSourceListener {
  /**
   * A dispatched event. Its {@link Event#id()} is the last event ID at dispatch (so it carries on
   * to later events without an {@code id:}); its type is {@code message} unless the stream named
   * another.
   */
  void onEvent(Event event);

  /** The connection is open: the server answered 200 with {@code text/event-stream}. */
  default void onOpen(HttpResponse.ResponseInfo response) {}

  /** A comment line: its text after the colon, exactly as sent (heartbeats are often empty). */
  default void onComment(String comment) {}

  /**
   * A connection failed or ended, once per failure.
   *
   * @param error why: see {@link ErrorPolicy} for the kinds of error
   * @param retryDelay how long the source waits before reconnecting; empty when it closes instead
   *     (then {@link #onClosed()} follows)
   */
  default void onError(Throwable error, Optional<Duration> retryDelay) {}

  /**
   * The source is closed for good: by {@link EventSource#close()}, by a 204 No Content, or after an
   * error the {@link ErrorPolicy} does not retry. Nothing follows.
   */
  default void onClosed() {}
}
