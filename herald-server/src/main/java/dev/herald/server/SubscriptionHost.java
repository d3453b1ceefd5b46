package dev.herald.server;

import dev.herald.server.spi.EventLog;

/**
 * What a {@link BrokerSubscription} needs of its broker, and all it may call: the one way a
 * subscription talks back. The broker calls the subscription's own methods (offer, heartbeat,
 * close); the subscription knows the broker only through this.
 */
interface SubscriptionHost {
  /** The log that history is read from. */
  EventLog log();

  /** The metrics hooks. */
  BrokerListener listener();

  /** Events one read of history returns. */
  int replayPageSize();

  /** Live events one replaying subscription holds back before it reads them from the log. */
  int maxBufferedEvents();

  /** Runs the subscription's next replay step on a replay thread. */
  void replay(BrokerSubscription subscription);

  /** Runs the next replay step after {@code delayMillis} (the sink was full, or the store down). */
  void replayLater(BrokerSubscription subscription, long delayMillis);

  /**
   * Makes an opened device stream its device's one stream; called under the stream's lock while it
   * is open. Returns the stream it replaces on this node, if any, which the caller closes once it
   * no longer holds its lock.
   */
  java.util.Optional<BrokerSubscription> takeDevicePlace(BrokerSubscription subscription);

  /** Removes a closed subscription everywhere; called once, under its lock. */
  void unregister(BrokerSubscription subscription);
}
