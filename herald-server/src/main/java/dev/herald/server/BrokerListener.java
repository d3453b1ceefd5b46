package dev.herald.server;

/**
 * Hooks for metrics, with no metrics dependency: the hub binds them to Micrometer. Called on broker
 * threads; implementations must be fast and thread-safe. Every method does nothing by default.
 */
public interface BrokerListener {
  /** An event was stored and fanned out to {@code reached} live subscriptions on this node. */
  default void published(StoredEvent event, int reached) {}

  /** {@code count} event frames were handed to sinks (live delivery). */
  default void delivered(int count) {}

  /** {@code count} events were replayed from the log to one subscription. */
  default void replayed(int count) {}

  /** A subscription opened. */
  default void subscriptionOpened() {}

  /** A subscription ended. */
  default void subscriptionClosed(CloseReason reason) {}
}
