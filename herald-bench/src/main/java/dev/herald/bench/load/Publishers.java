package dev.herald.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ByteProcessor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.function.LongPredicate;

/**
 * Keep-alive HTTP/1.1 publishers on one event loop thread, one request in flight per connection.
 * Either paced (a target rate, checked every 200 µs) or closed-loop (each connection sends again as
 * soon as its response arrives), optionally held back by a gate (the broadcast window).
 */
final class Publishers {
  private final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
  private final EventLoop loop = group.next();
  private final Target target;
  private final int[] ports;
  private final LongFunction<String> topicOf;
  private final String padding;
  private final ArrayDeque<Channel> idle = new ArrayDeque<>();
  private int connected;
  // All below are touched only on the event loop thread, read by others after a stop barrier.
  private long sent;
  private long acked;
  private long failed;
  private long firstFailureStatus;
  private double rate;
  private long startNanos;
  private LongPredicate gate = sentSoFar -> true;
  private boolean running;
  private ScheduledFuture<?> ticker;

  Publishers(Target target, int[] ports, LongFunction<String> topicOf, int payloadBytes) {
    this.target = target;
    this.ports = ports;
    this.topicOf = topicOf;
    this.padding = "x".repeat(Math.max(0, payloadBytes));
  }

  void connect(int count) throws InterruptedException {
    Bootstrap bootstrap =
        new Bootstrap()
            .group(group)
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel c) {
                    c.pipeline().addLast(new ResponseReader());
                  }
                });
    for (int i = 0; i < count; i++) {
      Channel ch = bootstrap.connect("127.0.0.1", ports[i % ports.length]).sync().channel();
      loop.submit(() -> idle.add(ch)).syncUninterruptibly();
      connected++;
    }
  }

  /**
   * Publishes for {@code seconds}: at {@code perSecond} (0: as fast as responses allow) while the
   * gate (given the number of requests sent so far, all runs together) is open; then waits (at most
   * 10 s) for the responses. Returns {sent, acked, failed, lastFailureStatus} for this run.
   */
  long[] run(double perSecond, LongPredicate gate, double seconds) throws Exception {
    long[] before = counters();
    loop.submit(
            () -> {
              this.rate = perSecond;
              this.gate = gate;
              this.startNanos = System.nanoTime();
              this.sent = 0;
              this.running = true;
              ticker = loop.scheduleAtFixedRate(this::pump, 0, 200, TimeUnit.MICROSECONDS);
            })
        .get();
    Thread.sleep((long) (seconds * 1000));
    loop.submit(
            () -> {
              running = false;
              ticker.cancel(false);
            })
        .get();
    awaitIdle(10_000);
    long[] after = counters();
    return new long[] {after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3]};
  }

  /** Waits up to the timeout for every in-flight request to be answered. */
  private void awaitIdle(long timeoutMillis) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      if (loop.submit(() -> idle.size()).get() >= connected) {
        return;
      }
      Thread.sleep(10);
    }
  }

  private long totalSent;

  /** Requests sent by every run so far. */
  long totalSent() throws Exception {
    return loop.submit(() -> totalSent).get();
  }

  private long[] counters() throws Exception {
    return loop.submit(() -> new long[] {totalSent, acked, failed, firstFailureStatus}).get();
  }

  private void pump() {
    if (!running) {
      return;
    }
    while (!idle.isEmpty() && gate.test(totalSent)) {
      if (rate > 0) {
        long due = (long) (rate * (System.nanoTime() - startNanos) / 1e9);
        if (sent >= due) {
          return;
        }
      }
      send(idle.poll());
    }
  }

  private void send(Channel ch) {
    long seq = totalSent;
    sent++;
    totalSent++;
    String data = "{\"t\":" + System.nanoTime() + ",\"p\":\"" + padding + "\"}";
    byte[] request = target.publishRequest(topicOf.apply(seq), data);
    ch.writeAndFlush(Unpooled.wrappedBuffer(request));
  }

  void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  /** Reads one response at a time: status line, Content-Length or chunked, then the body. */
  private final class ResponseReader extends ChannelInboundHandlerAdapter implements ByteProcessor {
    private final StringBuilder line = new StringBuilder();
    private boolean inHead = true;
    private boolean statusLine = true;
    private int status;
    private long contentLength;
    private boolean chunked;
    private int chunkEndMatched;
    private static final String CHUNK_END = "\n0\r\n\r\n";

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      try {
        while (buf.isReadable()) {
          int at = buf.forEachByte(this);
          if (at < 0) {
            break;
          }
          buf.readerIndex(at + 1);
          complete(ctx.channel());
        }
      } finally {
        buf.release();
      }
    }

    @Override
    public boolean process(byte b) {
      if (inHead) {
        if (b == '\n') {
          String l = line.toString().trim();
          line.setLength(0);
          if (statusLine) {
            status = Integer.parseInt(l.substring(9, 12));
            statusLine = false;
            contentLength = 0;
            chunked = false;
          } else if (l.isEmpty()) {
            inHead = false;
            chunkEndMatched = 1;
            return chunked || contentLength > 0;
          } else {
            String lower = l.toLowerCase();
            if (lower.startsWith("content-length:")) {
              contentLength = Long.parseLong(lower.substring(15).trim());
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
              chunked = true;
            }
          }
        } else {
          line.append((char) b);
        }
        return true;
      }
      if (chunked) {
        chunkEndMatched =
            b == CHUNK_END.charAt(chunkEndMatched) ? chunkEndMatched + 1 : (b == '\n' ? 1 : 0);
        return chunkEndMatched < CHUNK_END.length();
      }
      contentLength--;
      return contentLength > 0;
    }

    private void complete(Channel ch) {
      inHead = true;
      statusLine = true;
      if (status >= 200 && status < 300) {
        acked++;
      } else {
        failed++;
        firstFailureStatus = status;
      }
      idle.add(ch);
      pump();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      // A server that closes a publishing connection loses it for the rest of the run: the rate
      // the others can sustain is what gets reported.
      idle.remove(ctx.channel());
      connected--;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
