package dev.herald.server;

/**
 * The transport end of a subscription: a Servlet response, a Netty channel, a test's list. The
 * broker calls it from its own threads, never concurrently for one sink.
 */
public interface Sink {
  /**
   * Queues one complete frame (an event, a comment or a heartbeat) for the client. Must not block.
   * The array is shared with every other sink: read it, never modify it.
   *
   * @return {@code false} when the transport's unsent bytes are over its limit; the broker then
   *     closes the subscription with {@link CloseReason#SLOW_CONSUMER}
   */
  boolean send(byte[] frame);

  /**
   * The subscription ended; called exactly once, whatever the cause. The transport ends the
   * response cleanly (the client sees end of stream and reconnects) unless the client is gone.
   */
  void closed(CloseReason reason);
}
