package dev.herald.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Publishers that number each topic's events 1, 2, 3... in the {@link Ledger}, with data {@code
 * {"s":<number>,"t":<nanoTime>}}. Each of a few keep-alive connections ("lanes") owns every
 * lanes-th topic and has one request in flight, so a topic's events are stored in number order. A
 * lane whose connection dies records its request as unanswered and reconnects (to the next node
 * when there are several) after 200 ms.
 */
final class SequencedPublishers {
  private final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
  private final EventLoop loop = group.next();
  private final Target target;
  private final int[] ports;
  private final Ledger ledger;
  private final List<Lane> lanes = new ArrayList<>();
  // Touched on the event loop only.
  private double perLaneRate;
  private long perTopicBudget;
  private long startNanos;
  private boolean running;
  private ScheduledFuture<?> ticker;

  SequencedPublishers(Target target, int[] ports, Ledger ledger, int laneCount) {
    this.target = target;
    this.ports = ports;
    this.ledger = ledger;
    int n = Math.min(laneCount, ledger.topics());
    for (int i = 0; i < n; i++) {
      List<Integer> topics = new ArrayList<>();
      for (int t = i; t < ledger.topics(); t += n) {
        topics.add(t);
      }
      lanes.add(new Lane(i, topics.stream().mapToInt(Integer::intValue).toArray()));
    }
  }

  /**
   * Publishes at {@code perSecond} in all (0: as fast as answers come) until each topic has had
   * {@code eventsPerTopic} more events (Long.MAX_VALUE: until {@link #stop}).
   */
  void start(double perSecond, long eventsPerTopic) throws Exception {
    loop.submit(
            () -> {
              perLaneRate = perSecond / lanes.size();
              perTopicBudget = eventsPerTopic;
              startNanos = System.nanoTime();
              running = true;
              for (Lane l : lanes) {
                l.sentThisRun = 0;
                l.budget =
                    eventsPerTopic == Long.MAX_VALUE
                        ? Long.MAX_VALUE
                        : eventsPerTopic * l.topics.length;
                if (l.channel == null && !l.connecting) {
                  l.connect();
                }
              }
              ticker = loop.scheduleAtFixedRate(this::pump, 0, 2, TimeUnit.MILLISECONDS);
            })
        .get();
  }

  /** Stops sending; waits (bounded) for the requests in flight to be answered or to fail. */
  void stop(long timeoutMillis) throws Exception {
    loop.submit(
            () -> {
              running = false;
              if (ticker != null) {
                ticker.cancel(false);
              }
            })
        .get();
    awaitIdle(timeoutMillis);
  }

  /** Waits until every lane has used its budget and has nothing in flight; false on timeout. */
  boolean awaitDone(long timeoutMillis) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      boolean done =
          loop.submit(() -> lanes.stream().allMatch(l -> l.budget == 0 && l.inFlightSeq == 0))
              .get();
      if (done) {
        return true;
      }
      Thread.sleep(20);
    }
    return false;
  }

  private void awaitIdle(long timeoutMillis) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      if (loop.submit(() -> lanes.stream().allMatch(l -> l.inFlightSeq == 0)).get()) {
        return;
      }
      Thread.sleep(20);
    }
  }

  /**
   * Moves every lane back to its own node (lane i to node i mod nodes) once its request in flight
   * is answered: after a restart, the lanes that fled the stopped node return to it.
   */
  void rebalance() throws Exception {
    loop.submit(
            () -> {
              for (Lane l : lanes) {
                if (Math.floorMod(l.port, ports.length) != l.index % ports.length) {
                  l.rehome = true;
                  if (l.inFlightSeq == 0 && l.channel != null) {
                    l.channel.close();
                  }
                }
              }
            })
        .get();
  }

  /** Acknowledged per-topic numbers right now (index: topic). */
  long[] acked() {
    long[] a = new long[ledger.topics()];
    for (int t = 0; t < a.length; t++) {
      a[t] = ledger.acked(t);
    }
    return a;
  }

  void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  private void pump() {
    if (!running) {
      return;
    }
    for (Lane l : lanes) {
      l.maybeSend();
    }
  }

  private final class Lane extends SimpleChannelInboundHandler<FullHttpResponse> {
    private final int index;
    private final int[] topics;
    private Channel channel;
    private boolean connecting;
    private int port;
    private int next;
    private long budget;
    private long sentThisRun;
    private int inFlightTopic;
    private long inFlightSeq;
    private boolean rehome;

    Lane(int index, int[] topics) {
      this.index = index;
      this.topics = topics;
      this.port = index;
    }

    void connect() {
      connecting = true;
      Lane lane = this;
      new Bootstrap()
          .group(loop)
          .channel(EpollSocketChannel.class)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5_000)
          .handler(
              new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel c) {
                  c.pipeline()
                      .addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 16), lane);
                }
              })
          .connect("127.0.0.1", ports[Math.floorMod(port, ports.length)])
          .addListener(
              f -> {
                connecting = false;
                if (f.isSuccess()) {
                  channel = ((io.netty.channel.ChannelFuture) f).channel();
                  maybeSend();
                } else {
                  port++;
                  loop.schedule(this::connect, 200, TimeUnit.MILLISECONDS);
                }
              });
    }

    void maybeSend() {
      if (!running || channel == null || inFlightSeq != 0 || budget == 0) {
        return;
      }
      if (perLaneRate > 0 && sentThisRun >= perLaneRate * (System.nanoTime() - startNanos) / 1e9) {
        return;
      }
      int topic = topics[next];
      next = (next + 1) % topics.length;
      long seq = ledger.next(topic);
      inFlightTopic = topic;
      inFlightSeq = seq;
      sentThisRun++;
      if (budget != Long.MAX_VALUE) {
        budget--;
      }
      String name = Resumers.topicName(topic);
      byte[] body = target.publishBody(name, "{\"s\":" + seq + ",\"t\":" + System.nanoTime() + "}");
      FullHttpRequest req =
          new DefaultFullHttpRequest(
              HttpVersion.HTTP_1_1,
              HttpMethod.POST,
              target.publishPath(name),
              Unpooled.wrappedBuffer(body));
      req.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
      req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      req.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
      channel.writeAndFlush(req);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
      if (inFlightSeq == 0) {
        return;
      }
      if (r.status().code() / 100 == 2) {
        ledger.acked(inFlightTopic, inFlightSeq);
      } else {
        ledger.refused(inFlightTopic, inFlightSeq);
      }
      inFlightSeq = 0;
      if (rehome) {
        ctx.close(); // reconnects to its own node (channelInactive)
        return;
      }
      maybeSend();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (inFlightSeq != 0) {
        ledger.unanswered(inFlightTopic, inFlightSeq);
        inFlightSeq = 0;
      }
      channel = null;
      if (rehome) {
        rehome = false;
        port = index;
        connect();
        return;
      }
      port++;
      loop.schedule(this::connect, 200, TimeUnit.MILLISECONDS);
    }

    @Override
    public boolean isSharable() {
      return true; // one lane, one connection at a time
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
