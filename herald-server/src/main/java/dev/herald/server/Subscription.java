package dev.herald.server;

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
}
