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
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ByteProcessor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;

/**
 * Many SSE connections on one event loop group. Each connection parses its stream minimally: it
 * checks the status line, then counts every {@code "t":<digits>} it sees (one per event) and
 * records now − t as the delivery latency, t being the publisher's {@link System#nanoTime()}
 * (CLOCK_MONOTONIC, the same clock across processes on Linux).
 */
final class Subscribers {
  private static final byte[] STATUS_OK = Target.ascii("HTTP/1.1 200");
  private static final byte[] MARK = Target.ascii("\"t\":");

  private final EventLoopGroup group;
  private final Target target;
  private final int[] ports;
  final LongAdder delivered = new LongAdder();
  final AtomicInteger open = new AtomicInteger();
  final AtomicInteger refused = new AtomicInteger();
  final AtomicInteger closed = new AtomicInteger();
  private final Map<EventLoop, LatencyHistogram> histograms = new ConcurrentHashMap<>();
  private final List<Channel> channels = new ArrayList<>();

  Subscribers(EventLoopGroup group, Target target, int[] ports) {
    this.group = group;
    this.target = target;
    this.ports = ports;
  }

  /** Opens {@code count} streams, at most 256 connecting at once, and waits until all are open. */
  void open(int count, IntFunction<String> topicOf, long timeoutMillis)
      throws InterruptedException {
    Semaphore connecting = new Semaphore(256);
    Bootstrap bootstrap =
        new Bootstrap()
            .group(group)
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000);
    long deadline = System.currentTimeMillis() + timeoutMillis;
    for (int i = 0; i < count; i++) {
      if (!connecting.tryAcquire(
          Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("timed out opening connections at " + i);
      }
      byte[] request = target.subscribeRequest(topicOf.apply(i));
      Channel ch =
          bootstrap
              .handler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel c) {
                      c.pipeline().addLast(new SseCounter(request, connecting));
                    }
                  })
              // Spread over the nodes when there are several.
              .connect("127.0.0.1", ports[i % ports.length])
              .addListener(
                  f -> {
                    if (!f.isSuccess()) {
                      refused.incrementAndGet();
                      connecting.release();
                    }
                  })
              .channel();
      channels.add(ch);
    }
    while (open.get() + refused.get() < count && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
  }

  /** Takes and resets the latency histograms of every event loop. */
  LatencyHistogram snapshot() throws Exception {
    LatencyHistogram merged = new LatencyHistogram();
    for (Map.Entry<EventLoop, LatencyHistogram> e : histograms.entrySet()) {
      LatencyHistogram taken =
          e.getKey()
              .submit(
                  () -> {
                    LatencyHistogram h = e.getValue();
                    histograms.put(e.getKey(), new LatencyHistogram());
                    return h;
                  })
              .get(10, TimeUnit.SECONDS);
      merged.add(taken);
    }
    return merged;
  }

  void closeAll() {
    for (Channel ch : channels) {
      ch.close();
    }
  }

  private final class SseCounter extends ChannelInboundHandlerAdapter implements ByteProcessor {
    private final byte[] request;
    private Semaphore connecting;
    private int statusMatched;
    private boolean streaming;
    private int markMatched;
    private boolean inNumber;
    private long number;
    private long now;
    private LatencyHistogram histogram;
    private long count;

    SseCounter(byte[] request, Semaphore connecting) {
      this.request = request;
      this.connecting = connecting;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.writeAndFlush(Unpooled.wrappedBuffer(request));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      try {
        now = System.nanoTime();
        histogram =
            histograms.computeIfAbsent(ctx.channel().eventLoop(), k -> new LatencyHistogram());
        count = 0;
        buf.forEachByte(this);
        if (count > 0) {
          delivered.add(count);
        }
        if (!streaming && statusMatched < 0) {
          ctx.close();
        }
      } finally {
        buf.release();
      }
    }

    @Override
    public boolean process(byte b) {
      if (!streaming) {
        if (statusMatched >= 0 && b == STATUS_OK[statusMatched]) {
          statusMatched++;
          if (statusMatched == STATUS_OK.length) {
            streaming = true;
            open.incrementAndGet();
            release();
          }
        } else {
          statusMatched = -1;
          refused.incrementAndGet();
          release();
          return false;
        }
        return true;
      }
      if (inNumber) {
        if (b >= '0' && b <= '9') {
          number = number * 10 + (b - '0');
          return true;
        }
        inNumber = false;
        histogram.record((now - number) / 1000);
        count++;
      }
      if (b == MARK[markMatched]) {
        markMatched++;
        if (markMatched == MARK.length) {
          markMatched = 0;
          inNumber = true;
          number = 0;
        }
      } else {
        markMatched = b == MARK[0] ? 1 : 0;
      }
      return true;
    }

    private void release() {
      if (connecting != null) {
        connecting.release();
        connecting = null;
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      release();
      if (streaming) {
        closed.incrementAndGet();
      } else if (statusMatched >= 0) {
        // Closed by the server before a status line: refused, so open() need not wait it out.
        refused.incrementAndGet();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
