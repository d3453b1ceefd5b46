package dev.herald.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * SSE subscribers that resume as a browser's {@code EventSource} does, and check every event
 * against the {@link Ledger}: each subscriber sees its topic's numbers once and in order, skipping
 * only numbers that were never acknowledged, unless a {@code reset} event came first. A stream that
 * ends comes back with {@code Last-Event-ID} after the server's {@code retry:} (jittered by the
 * server) or, after a network error or an error status, after {@code retry:} or 1 s, each with
 * jitter. While {@link #hold} is set, ended streams wait in {@link #held} instead, so a benchmark
 * can send them all back at once.
 */
final class Resumers {
  /** One logical subscriber: it outlives its connections. */
  static final class Sub {
    final int index;
    final int topic;
    final boolean slow;
    volatile long lastSeq;
    volatile boolean open;
    boolean everOpened;
    volatile long openedNanos;
    String lastId;
    boolean resetSeen;
    int port;
    int retryMs = 1000;
    Channel channel;

    Sub(int index, int topic, boolean slow) {
      this.index = index;
      this.topic = topic;
      this.slow = slow;
      this.port = index;
    }
  }

  private final EventLoopGroup group;
  private final Target target;
  private final int[] ports;
  private final Ledger ledger;
  private final Bootstrap bootstrap;
  final List<Sub> subs = new ArrayList<>();
  final Queue<Sub> held = new ConcurrentLinkedQueue<>();
  volatile boolean hold;

  final LongAdder delivered = new LongAdder();
  final LongAdder duplicates = new LongAdder();
  final LongAdder gaps = new LongAdder();
  final LongAdder deliveredRefused = new LongAdder();
  final LongAdder resets = new LongAdder();
  final LongAdder streams = new LongAdder();
  final LongAdder cleanEnds = new LongAdder();
  final LongAdder abruptEnds = new LongAdder();
  final LongAdder shed = new LongAdder();
  final LongAdder non200 = new LongAdder();
  final java.util.Map<String, LongAdder> non200Statuses =
      new java.util.concurrent.ConcurrentHashMap<>();
  final LongAdder connectFailures = new LongAdder();
  final AtomicInteger openNow = new AtomicInteger();
  private final Queue<String> violations = new ConcurrentLinkedQueue<>();
  private final AtomicInteger violationCount = new AtomicInteger();

  Resumers(EventLoopGroup group, Target target, int[] ports, Ledger ledger) {
    this.group = group;
    this.target = target;
    this.ports = ports;
    this.ledger = ledger;
    this.bootstrap =
        new Bootstrap()
            .group(group)
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000);
  }

  /** Adds {@code count} subscribers spread round-robin over the ledger's topics. */
  void add(int count, double slowFraction) {
    int slowEvery = slowFraction <= 0 ? 0 : (int) Math.round(1 / slowFraction);
    for (int i = 0; i < count; i++) {
      int index = subs.size();
      subs.add(
          new Sub(
              index, index % ledger.topics(), slowEvery > 0 && index % slowEvery == slowEvery - 1));
    }
  }

  /** Connects the given subscribers now, all at once (the connects are asynchronous). */
  void connect(Collection<Sub> which) {
    for (Sub s : which) {
      connect(s);
    }
  }

  void connect(Sub s) {
    int port = ports[Math.floorMod(s.port, ports.length)];
    Bootstrap b =
        bootstrap
            .clone()
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel c) {
                    if (s.slow) {
                      // A slow reader: a small receive buffer, read every 2 s, so the server's
                      // queue for this stream fills up (and may be cut at --max-buffer-bytes).
                      c.config().setOption(ChannelOption.SO_RCVBUF, 4096);
                      c.config().setAutoRead(false);
                    }
                    c.pipeline().addLast(new HttpClientCodec(), new Stream(s));
                  }
                });
    b.connect("127.0.0.1", port)
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                connectFailures.increment();
                s.port++; // the next node, when there are several
                ended(s, jittered(s.retryMs));
              }
            });
  }

  /** Closes one subscriber's connection as a network failure would; it resumes by itself. */
  void drop(Sub s) {
    Channel ch = s.channel;
    if (ch != null) {
      ch.close();
    }
  }

  int resumedTo(long[] seqPerTopic) {
    int n = 0;
    for (Sub s : subs) {
      if (s.lastSeq >= seqPerTopic[s.topic]) {
        n++;
      }
    }
    return n;
  }

  int open() {
    return openNow.get();
  }

  int violationCount() {
    return violationCount.get();
  }

  List<String> violations() {
    return new ArrayList<>(violations);
  }

  void closeAll() {
    hold = true;
    for (Sub s : subs) {
      drop(s);
    }
  }

  private void violation(Sub s, String what) {
    if (violationCount.incrementAndGet() <= 20) {
      violations.add("sub " + s.index + " topic " + s.topic + ": " + what);
    }
  }

  /** The topic (Nchan: channel) of topic index {@code t}, the same name for every target. */
  static String topicName(int t) {
    return "rt-" + t;
  }

  private static long jittered(int ms) {
    return ms / 2 + ThreadLocalRandom.current().nextInt(Math.max(1, ms));
  }

  /** A stream ended (or never started): come back, now held or after {@code delayMs}. */
  private void ended(Sub s, long delayMs) {
    s.channel = null;
    if (hold) {
      held.add(s);
      return;
    }
    group.schedule(
        () -> {
          if (hold) {
            held.add(s);
          } else {
            connect(s);
          }
        },
        delayMs,
        TimeUnit.MILLISECONDS);
  }

  /** One connection of one subscriber: the response head, then the event stream's lines. */
  private final class Stream extends SimpleChannelInboundHandler<HttpObject> {
    private final Sub s;
    private int status;
    private boolean streaming;
    private boolean sawRetry;
    private int events;
    private long retryAfterMs = -1;
    private boolean done;
    private io.netty.util.concurrent.ScheduledFuture<?> reader;
    private final byte[] line = new byte[8192];
    private int lineLength;
    private boolean lastWasCr;
    private String id;
    private String type;
    private StringBuilder data;

    Stream(Sub s) {
      this.s = s;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      s.channel = ctx.channel();
      FullHttpRequest req =
          new DefaultFullHttpRequest(
              HttpVersion.HTTP_1_1, HttpMethod.GET, target.subscribePath(topicName(s.topic)));
      req.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
      req.headers().set(HttpHeaderNames.ACCEPT, "text/event-stream");
      if (s.lastId != null) {
        req.headers().set("Last-Event-ID", s.lastId);
      } else if (s.everOpened && target == Target.HERALD) {
        // Cut before its first event: every topic starts empty here, so "all retained history"
        // is exactly what it missed (without a position the hub would send live events only).
        req.headers().set("Last-Event-ID", "earliest");
      }
      ctx.writeAndFlush(req);
      if (s.slow) {
        ctx.read();
        reader =
            ctx.executor()
                .scheduleAtFixedRate(
                    () -> {
                      if (ctx.channel().isActive()) {
                        ctx.read();
                      }
                    },
                    2,
                    2,
                    TimeUnit.SECONDS);
      }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
      if (msg instanceof HttpResponse r) {
        status = r.status().code();
        String type = r.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
        if (status == 200 && type.startsWith("text/event-stream")) {
          streaming = true;
          s.open = true;
          s.everOpened = true;
          s.openedNanos = System.nanoTime();
          openNow.incrementAndGet();
          streams.increment();
        } else {
          non200.increment();
          String ct = type.isEmpty() ? "" : " " + type.split(";")[0];
          non200Statuses.computeIfAbsent(status + ct, k -> new LongAdder()).increment();
          String after = r.headers().get(HttpHeaderNames.RETRY_AFTER);
          if (after != null && after.matches("\\d{1,4}")) {
            retryAfterMs = Long.parseLong(after) * 1000;
          }
        }
      }
      if (msg instanceof HttpContent c && streaming) {
        ByteBuf b = c.content();
        for (int i = b.readerIndex(); i < b.writerIndex(); i++) {
          feed(b.getByte(i));
        }
      }
      if (msg instanceof LastHttpContent) {
        if (streaming) {
          cleanEnds.increment();
        }
        finish(ctx);
      }
    }

    private void feed(byte b) {
      if (b == '\n' && lastWasCr) {
        lastWasCr = false;
        return;
      }
      lastWasCr = b == '\r';
      if (b == '\n' || b == '\r') {
        line(new String(line, 0, lineLength, StandardCharsets.UTF_8));
        lineLength = 0;
      } else if (lineLength < line.length) {
        line[lineLength++] = b;
      }
    }

    private void line(String l) {
      if (l.isEmpty()) {
        dispatch();
        return;
      }
      if (l.charAt(0) == ':') {
        return;
      }
      int colon = l.indexOf(':');
      String field = colon < 0 ? l : l.substring(0, colon);
      String value = colon < 0 ? "" : l.substring(colon + 1);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
      switch (field) {
        case "id" -> id = value;
        case "event" -> type = value;
        case "data" -> {
          if (data == null) {
            data = new StringBuilder(value);
          } else {
            data.append('\n').append(value);
          }
        }
        case "retry" -> {
          if (value.matches("\\d{1,9}")) {
            s.retryMs = Integer.parseInt(value);
            sawRetry = true;
          }
        }
        default -> {}
      }
    }

    private void dispatch() {
      if (id != null) {
        s.lastId = id; // as EventSource: the id field sets the last event id, data or not
      }
      if (data != null) {
        event(type == null ? "message" : type, data.toString());
      }
      id = null;
      type = null;
      data = null;
    }

    private void event(String type, String data) {
      events++;
      if (type.equals("reset")) {
        resets.increment();
        s.resetSeen = true;
        return;
      }
      int at = data.indexOf("\"s\":");
      if (at < 0) {
        violation(s, "event without a sequence number: " + data);
        return;
      }
      long seq = 0;
      for (int i = at + 4; i < data.length() && Character.isDigit(data.charAt(i)); i++) {
        seq = seq * 10 + (data.charAt(i) - '0');
      }
      delivered.increment();
      long last = s.lastSeq;
      if (s.resetSeen) {
        // After a reset, the stream starts again from what the server has: any number.
        s.resetSeen = false;
      } else if (seq <= last) {
        duplicates.increment();
        violation(s, "got " + seq + " after " + last);
        return;
      } else if (seq > last + 1 && !ledger.mayBeMissing(s.topic, last + 1, seq - 1)) {
        gaps.increment();
        violation(s, "got " + seq + " after " + last + ", skipping acknowledged events");
      }
      if (ledger.wasRefused(s.topic, seq)) {
        deliveredRefused.increment();
        violation(s, "got " + seq + ", whose publish was refused");
      }
      s.lastSeq = seq;
    }

    private void finish(ChannelHandlerContext ctx) {
      if (done) {
        return;
      }
      done = true;
      if (reader != null) {
        reader.cancel(false);
      }
      long delay;
      if (streaming) {
        s.open = false;
        openNow.decrementAndGet();
        if (sawRetry && events == 0) {
          shed.increment(); // 200 + retry: + an immediate end: come back later
        }
        delay = sawRetry ? s.retryMs : jittered(s.retryMs);
      } else {
        delay = retryAfterMs >= 0 ? retryAfterMs + jittered(1000) : jittered(s.retryMs);
      }
      ctx.close();
      ended(s, delay);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (!done && streaming) {
        abruptEnds.increment();
      }
      finish(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
