package dev.herald.server;

import dev.herald.server.spi.Presence;
import java.util.Set;

/** A live subscription, returned by {@link Broker#subscribe}. Closing it is idempotent. */
public interface Subscription extends AutoCloseable {
  /** The topics it covers. */
  Set<String> topics();

  /** Whether it still delivers. */
  boolean isOpen();

  /** Ends it with {@link CloseReason#CLIENT_CLOSED} unless it already ended. */
  @Override
  void close();

  /** Ends it with the given reason unless it already ended; the sink hears of it exactly once. */
  void close(CloseReason reason);

  /**
   * Tells the broker the transport has opened the stream to its client (over HTTP: the response
   * head is written). A device's stream ({@link Broker#subscribe(Set, Position, Sink, String)})
   * takes the device's place only now: the device's older stream of the same topics, on this node
   * or (with a {@link Presence}) another, is closed with {@link CloseReason#REPLACED} after this
   * one is open, so the device never goes without a stream, and presence lists this one from now
   * on. A transport serving device streams must call it; for other subscriptions it does nothing.
   * Idempotent; does nothing once the subscription ended.
   */
  default void opened() {}
}
