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
   * Whether the transport would take more frames now without nearing its limit (for example, a
   * Netty channel's {@code isWritable()}). While it is {@code false} the broker pauses a replay of
   * history and tries again shortly, so a long replay to a client that reads at a normal pace never
   * overruns the stream's bound. Live events are sent regardless. Must not block; by default always
   * {@code true}.
   */
  default boolean writable() {
    return true;
  }

  /**
   * The subscription ended; called exactly once, whatever the cause. The transport ends the
   * response cleanly (the client sees end of stream and reconnects) unless the client is gone.
   */
  void closed(CloseReason reason);
}
