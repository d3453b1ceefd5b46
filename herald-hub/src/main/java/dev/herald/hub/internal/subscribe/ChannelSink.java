package dev.herald.hub.internal.subscribe;

import dev.herald.core.Comment;
import dev.herald.core.SseEncoder;
import dev.herald.hub.internal.http.Redaction;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Shedding;
import dev.herald.hub.internal.http.StaysOnStream;
import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.DefaultChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event stream: its subscription's end on a channel, and, once the response head is out, the
 * only handler of that connection besides the connection limiter's accounting.
 *
 * <p><b>A stripped pipeline.</b> A stream never carries another request, so {@link #start} removes
 * the request handlers (codec, routing, auth, ...: a dozen contexts and the decoder's buffers per
 * idle stream) and writes HTTP chunks itself, as raw bytes: {@link FrameBuffers} encodes each
 * event's chunk once for every channel. Whatever the client sends afterwards is discarded.
 *
 * <p><b>Batched writes.</b> {@link #send} (on a broker thread) queues the chunk and, unless a drain
 * is already pending, hands the event loop one drain task; the drain writes everything queued with
 * one promise for the batch and one flush. A burst of events to one channel thus costs one task,
 * one promise and one {@code writev}.
 *
 * <p><b>The bound.</b> Unsent bytes are counted here rather than read from the channel's outbound
 * buffer: the count rises when a chunk is queued (on a broker thread, before the event loop has
 * seen it) and falls when its batch's write completes, so it is exact whatever sits in the event
 * loop's task queue. Past {@code maxUnsentBytes}, {@link #send} answers {@code false} and the
 * broker ends the stream as {@link CloseReason#SLOW_CONSUMER}.
 */
final class ChannelSink extends ChannelInboundHandlerAdapter
    implements Sink, Runnable, ChannelFutureListener {
  private static final Logger LOG = LoggerFactory.getLogger(ChannelSink.class);
  private static final AtomicLongFieldUpdater<ChannelSink> UNSENT =
      AtomicLongFieldUpdater.newUpdater(ChannelSink.class, "unsent");

  /** The stream's first chunk: an {@code ok} comment, so the client sees the stream is open. */
  private static final ByteBuf OPENING =
      shared(
          FrameBuffers.encode(
              UnpooledByteBufAllocator.DEFAULT, SseEncoder.encode(new Comment("ok"))));

  /** The terminating chunk: a clean end of the response. */
  private static final ByteBuf LAST_CHUNK =
      shared(
          UnpooledByteBufAllocator.DEFAULT
              .directBuffer(5)
              .writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));

  private final Channel channel;
  private final FrameBuffers buffers;
  private final long maxUnsentBytes;
  private volatile long unsent;
  private volatile Subscription subscription;

  // Guarded by this. Chunks waiting for the next drain: the first in a field, so that the usual
  // batch of one allocates no queue.
  private ByteBuf first;
  private ArrayDeque<ByteBuf> more;
  private boolean drainPending;
  // The head is out and the pipeline stripped: drains may write.
  private boolean started;
  // closed() asked for a clean end: the next drain writes the terminating chunk.
  private boolean ending;
  // Nothing more is written: chunks queued from now on are released at once.
  private boolean done;

  ChannelSink(Channel channel, FrameBuffers buffers, long maxUnsentBytes) {
    this.channel = channel;
    this.buffers = buffers;
    this.maxUnsentBytes = maxUnsentBytes;
  }

  /** The subscription this sink serves, once the broker has returned it. */
  void attach(Subscription subscription) {
    this.subscription = subscription;
  }

  /**
   * On the event loop, right after the response head was written through the full pipeline: makes
   * this the connection's handler, removes every request handler but those that stay on a stream
   * ({@link StaysOnStream}: the connection limiter, which counts the connection until it closes),
   * writes the opening comment and whatever the broker queued meanwhile, and flushes.
   */
  void start() {
    ChannelPipeline pipeline = channel.pipeline();
    pipeline.addLast("stream", this);
    // Last first, so each removed handler's successor is already the stream: anything still in
    // flight through a removed handler (a pipelined request's remains) lands here and is dropped.
    // By name: iterating the pipeline would copy it into a map, garbage for every stream.
    List<String> names = pipeline.names();
    for (int i = names.size() - 1; i >= 0; i--) {
      ChannelHandler handler = pipeline.get(names.get(i));
      if (handler != null && handler != this && !(handler instanceof StaysOnStream)) {
        pipeline.remove(names.get(i));
      }
    }
    RequestInfo.forget(channel);
    // A subscribe that waited for its topics' watches turned reading off meanwhile.
    channel.config().setAutoRead(true);
    synchronized (this) {
      started = true;
      drainPending = true;
    }
    channel.write(OPENING.duplicate(), channel.voidPromise());
    run();
    if (!channel.isActive()) {
      // Closed before this handler was added: its channelInactive has come and gone.
      Subscription s = subscription;
      if (s != null) {
        s.close();
      }
    }
  }

  /**
   * Below half the bound: a replay of history pauses above it, so it never trips the bound of a
   * client that reads at a normal pace, while live events keep the other half as headroom.
   */
  @Override
  public boolean writable() {
    return unsent < maxUnsentBytes / 2;
  }

  @Override
  public boolean send(byte[] frame) {
    ByteBuf chunk = buffers.chunk(frame);
    int length = chunk.readableBytes();
    if (UNSENT.addAndGet(this, length) > maxUnsentBytes) {
      UNSENT.addAndGet(this, -length);
      chunk.release();
      return false;
    }
    boolean schedule;
    synchronized (this) {
      if (done || ending) {
        chunk.release();
        return true;
      }
      if (first == null) {
        first = chunk;
      } else {
        if (more == null) {
          more = new ArrayDeque<>();
        }
        more.add(chunk);
      }
      schedule = started && !drainPending;
      if (schedule) {
        drainPending = true;
      }
    }
    if (schedule) {
      schedule();
    }
    return true;
  }

  private void schedule() {
    try {
      channel.eventLoop().execute(this);
    } catch (RejectedExecutionException e) {
      // The event loops are stopping: the connection is gone with them.
      discard();
    }
  }

  /** The drain, on the event loop: writes what is queued as one batch and flushes. */
  @Override
  public void run() {
    ByteBuf head;
    ArrayDeque<ByteBuf> rest;
    boolean end;
    boolean active = channel.isActive();
    synchronized (this) {
      drainPending = false;
      head = first;
      rest = more;
      first = null;
      more = null;
      end = ending && !done;
      if (end || !active) {
        done = true;
      }
    }
    if (!active) {
      release(head, rest);
      return;
    }
    if (head != null) {
      write(head, rest);
    }
    if (end) {
      channel.writeAndFlush(LAST_CHUNK.duplicate()).addListener(ChannelFutureListener.CLOSE);
    } else {
      channel.flush();
    }
  }

  /** Writes a batch in order; only its last write carries a promise, for the whole batch. */
  private void write(ByteBuf head, ArrayDeque<ByteBuf> rest) {
    long bytes = head.readableBytes();
    if (rest == null) {
      channel.write(head, new Batch(channel, bytes).addListener(this));
      return;
    }
    channel.write(head, channel.voidPromise());
    ByteBuf chunk;
    while ((chunk = rest.poll()) != null) {
      bytes += chunk.readableBytes();
      channel.write(
          chunk,
          rest.isEmpty() ? new Batch(channel, bytes).addListener(this) : channel.voidPromise());
    }
  }

  /** A batch's write completed: its bytes are sent (or the connection failed). */
  @Override
  public void operationComplete(ChannelFuture future) {
    UNSENT.addAndGet(this, -((Batch) future).bytes);
    if (!future.isSuccess()) {
      Subscription s = subscription;
      if (s != null) {
        s.close(CloseReason.WRITE_FAILED);
      }
      channel.close();
    }
  }

  /**
   * Ends the response. A slow consumer's or failed connection is closed at once: what it has not
   * read is dropped (it resumes from the log with {@code Last-Event-ID}), so its memory is freed
   * now rather than whenever it reads again. Every other ending writes the terminating chunk after
   * whatever is queued, so the client sees a clean end of stream and reconnects, and then closes
   * the connection.
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
    boolean schedule;
    synchronized (this) {
      if (ending || done) {
        return;
      }
      ending = true;
      schedule = started && !drainPending;
      if (schedule) {
        drainPending = true;
      }
    }
    if (schedule) {
      schedule();
    }
  }

  /**
   * Asks the client to come back: after whatever is queued, a {@code retry:} of {@code retryMillis}
   * with a comment saying why, then the clean end of the stream. Its subscription ends ({@link
   * CloseReason#SHUTDOWN}), so nothing is sent after it; the client resumes from its {@code
   * Last-Event-ID}, on this node or another.
   */
  void comeBack(String reason, long retryMillis) {
    send(Shedding.frame(reason, retryMillis));
    Subscription s = subscription;
    if (s != null) {
      s.close(CloseReason.SHUTDOWN);
    } else {
      closed(CloseReason.SHUTDOWN);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // The client has nothing more to say on a stream: whatever it sends is dropped.
    ReferenceCountUtil.release(msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // Nothing to pass on.
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    discard();
    Subscription s = subscription;
    if (s != null) {
      s.close();
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A reset peer or a write to a closed connection: the stream is over either way.
    LOG.debug(
        "stream to {} failed: {}",
        ctx.channel().remoteAddress(),
        Redaction.redact(cause.toString()));
    ctx.close();
  }

  /** Stops writing and releases whatever is queued. */
  private void discard() {
    ByteBuf head;
    ArrayDeque<ByteBuf> rest;
    synchronized (this) {
      done = true;
      head = first;
      rest = more;
      first = null;
      more = null;
    }
    release(head, rest);
  }

  private static void release(ByteBuf head, ArrayDeque<ByteBuf> rest) {
    if (head != null) {
      head.release();
    }
    if (rest != null) {
      rest.forEach(ByteBuf::release);
    }
  }

  /** A constant chunk; each write takes a {@code duplicate()}, with its own indices. */
  private static ByteBuf shared(ByteBuf buffer) {
    return Unpooled.unreleasableBuffer(buffer);
  }

  /** The promise of a batch's last write, which knows the batch's size. */
  private static final class Batch extends DefaultChannelPromise {
    final long bytes;

    Batch(Channel channel, long bytes) {
      super(channel);
      this.bytes = bytes;
    }
  }
}
