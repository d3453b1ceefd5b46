package dev.herald.hub.internal.subscribe;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One event stream's end of a subscription: writes each frame to the channel as one HTTP chunk and
 * bounds the bytes not yet handed to the socket.
 *
 * <p>Unsent bytes are counted here rather than read from the channel's outbound buffer: the count
 * rises when a frame is queued (from a broker thread, before the event loop has even seen it) and
 * falls when its write completes, so it is exact whatever sits in the event loop's task queue. Past
 * {@code maxUnsentBytes}, {@link #send} answers {@code false} and the broker ends the stream as
 * {@link CloseReason#SLOW_CONSUMER}.
 */
final class ChannelSink implements Sink {
  private final Channel channel;
  private final FrameBuffers buffers;
  private final long maxUnsentBytes;
  private final AtomicLong unsent = new AtomicLong();
  private volatile Subscription subscription;

  ChannelSink(Channel channel, FrameBuffers buffers, long maxUnsentBytes) {
    this.channel = channel;
    this.buffers = buffers;
    this.maxUnsentBytes = maxUnsentBytes;
  }

  /** The subscription this sink serves, once the broker has returned it. */
  void attach(Subscription subscription) {
    this.subscription = subscription;
  }

  @Override
  public boolean send(byte[] frame) {
    int length = frame.length;
    if (unsent.addAndGet(length) > maxUnsentBytes) {
      unsent.addAndGet(-length);
      return false;
    }
    ByteBuf buffer = buffers.duplicate(frame);
    channel
        .writeAndFlush(new DefaultHttpContent(buffer))
        .addListener(
            (ChannelFutureListener)
                future -> {
                  unsent.addAndGet(-length);
                  if (!future.isSuccess()) {
                    writeFailed();
                  }
                });
    return true;
  }

  private void writeFailed() {
    Subscription s = subscription;
    if (s != null) {
      s.close(CloseReason.WRITE_FAILED);
    }
    channel.close();
  }

  /**
   * Ends the response. A slow consumer's or failed connection is closed at once: what it has not
   * read is dropped (it resumes from the log with {@code Last-Event-ID}), so its memory is freed
   * now rather than whenever it reads again. Every other ending writes the terminating chunk, so
   * the client sees a clean end of stream and reconnects, and then closes the connection.
   */
  @Override
  public void closed(CloseReason reason) {
    if (!channel.isActive()) {
      return;
    }
    if (reason == CloseReason.SLOW_CONSUMER || reason == CloseReason.WRITE_FAILED) {
      channel.close();
      return;
    }
    channel
        .writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT)
        .addListener(ChannelFutureListener.CLOSE);
  }
}
