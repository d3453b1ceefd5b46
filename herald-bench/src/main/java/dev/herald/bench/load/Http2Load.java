package dev.herald.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Event streams over HTTP/2 next to HTTP/1.1, against a hub running in another process (its {@code
 * /proc} read for RSS and CPU): {@code idle} measures server memory per idle stream, {@code
 * broadcast} deliveries per second and the hub's CPU per delivery, each over HTTP/1.1 (one
 * connection per stream) or HTTP/2 ({@code --connections} connections carrying all streams), in
 * clear or over TLS; {@code herald-bench/scripts/h2.sh} runs every combination in one run.
 *
 * <pre>
 * java -cp benchmarks.jar dev.herald.bench.load.Http2Load idle --protocol h2 --tls false \
 *     --port 8080 --pid 1234 --streams 10000 --connections 100
 * </pre>
 *
 * Prints one line {@code RESULT key=value ...}. The client is Netty on epoll with raw frames
 * (HTTP/2: the frame codec, no child channel per stream), so it costs little next to the hub.
 */
public final class Http2Load {
  private static final long CLOCK_TICKS_PER_SECOND = 100;

  private final Map<String, String> opts;
  private final int port;
  private final boolean h2;
  private final boolean tls;
  private final int streams;
  private final int connections;
  private final EventLoopGroup group = new EpollEventLoopGroup(2);
  private final AtomicInteger opened = new AtomicInteger();
  private final AtomicLong deliveries = new AtomicLong();
  // Names a topic per stream in the idle scenario.
  private final AtomicInteger topics = new AtomicInteger();

  private Http2Load(Map<String, String> opts) {
    this.opts = opts;
    this.port = Integer.parseInt(opts.get("port"));
    this.h2 = opts.getOrDefault("protocol", "h2").equals("h2");
    this.tls = Boolean.parseBoolean(opts.getOrDefault("tls", "false"));
    this.streams = Integer.parseInt(opts.getOrDefault("streams", "10000"));
    this.connections = h2 ? Integer.parseInt(opts.getOrDefault("connections", "100")) : streams;
  }

  /** {@code idle|broadcast --port P --pid PID [--protocol h1|h2] [--tls true] [...]}. */
  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 1; i + 1 < args.length; i += 2) {
      opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Http2Load load = new Http2Load(opts);
    try {
      if (args[0].equals("idle")) {
        load.idle();
      } else {
        load.broadcast();
      }
    } finally {
      load.group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    System.exit(0);
  }

  private void idle() throws Exception {
    long before = rssKb();
    open("idle-");
    Thread.sleep(5000); // let the hub's young generation settle before reading its RSS
    long after = rssKb();
    System.out.printf(
        "RESULT scenario=idle protocol=%s tls=%s streams=%d connections=%d rssBeforeKb=%d"
            + " rssAfterKb=%d bytesPerStream=%d%n",
        h2 ? "h2" : "h1",
        tls,
        streams,
        connections,
        before,
        after,
        (after - before) * 1024 / streams);
  }

  private void broadcast() throws Exception {
    open("all");
    int seconds = Integer.parseInt(opts.getOrDefault("seconds", "10"));
    HttpClient publisher = publisher();
    URI uri = URI.create((tls ? "https" : "http") + "://127.0.0.1:" + port + "/events");
    String body = "{\"topic\":\"all\",\"data\":\"" + "x".repeat(100) + "\"}";
    long warmupEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    long end = warmupEnd + TimeUnit.SECONDS.toNanos(seconds);
    long published = 0;
    long startDeliveries = -1;
    long startCpu = 0;
    long startNanos = 0;
    while (System.nanoTime() < end) {
      if (startDeliveries < 0 && System.nanoTime() >= warmupEnd) {
        startDeliveries = deliveries.get();
        startCpu = cpuMicros();
        startNanos = System.nanoTime();
      }
      // Closed loop: never more than 4 broadcasts not yet delivered to every stream.
      while (deliveries.get() < (published - 4) * streams && System.nanoTime() < end) {
        Thread.onSpinWait();
      }
      HttpResponse<String> answer =
          publisher.send(
              HttpRequest.newBuilder(uri)
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (answer.statusCode() != 201) {
        throw new IllegalStateException("publish answered " + answer.statusCode());
      }
      published++;
    }
    long delivered = deliveries.get() - startDeliveries;
    long cpu = cpuMicros() - startCpu;
    double secs = (System.nanoTime() - startNanos) / 1e9;
    System.out.printf(
        "RESULT scenario=broadcast protocol=%s tls=%s streams=%d connections=%d"
            + " deliveriesPerSecond=%.0f serverMicrosPerDelivery=%.2f%n",
        h2 ? "h2" : "h1",
        tls,
        streams,
        connections,
        delivered / secs,
        delivered == 0 ? 0 : (double) cpu / delivered);
  }

  /**
   * Opens every stream (topic {@code all}, or one each after {@code prefix}) and waits for them.
   */
  private void open(String topic) throws Exception {
    SslContext ssl = tls ? clientTls() : null;
    Bootstrap bootstrap =
        new Bootstrap()
            .group(group)
            .channel(EpollSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    if (ssl != null) {
                      ch.pipeline().addLast(ssl.newHandler(ch.alloc(), "localhost", port));
                    }
                    if (h2) {
                      ch.pipeline()
                          .addLast(
                              Http2FrameCodecBuilder.forClient()
                                  .initialSettings(Http2Settings.defaultSettings())
                                  .build());
                      ch.pipeline().addLast(new H2Streams(topic, streams / connections));
                    } else {
                      ch.pipeline().addLast(new H1Stream(topic));
                    }
                  }
                });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    for (int i = 0; i < connections; i++) {
      bootstrap.connect("127.0.0.1", port).sync();
      // Paced by the hub's answers, as under --max-new-connections-per-second.
      while (opened.get() < (i + 1L) * streams / connections - 1000
          && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
    }
    while (opened.get() < streams) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(opened.get() + " of " + streams + " streams opened");
      }
      Thread.sleep(10);
    }
  }

  private SslContext clientTls() throws IOException {
    return SslContextBuilder.forClient()
        .sslProvider(SslProvider.JDK)
        .trustManager(InsecureTrustManagerFactory.INSTANCE)
        .applicationProtocolConfig(
            new ApplicationProtocolConfig(
                ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                h2 ? ApplicationProtocolNames.HTTP_2 : ApplicationProtocolNames.HTTP_1_1))
        .build();
  }

  private HttpClient publisher() throws Exception {
    HttpClient.Builder builder = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1);
    if (tls) {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {new TrustAll()}, new SecureRandom());
      builder.sslContext(context);
    }
    return builder.build();
  }

  /**
   * Counts event ends ({@code \n\n}) across reads; a stream counts as open at its first bytes (its
   * head; the opening {@code :ok} comment is a single line).
   */
  private final class Counter {
    private byte last;
    private boolean first = true;

    void feed(ByteBuf data) {
      if (first) {
        first = false;
        opened.incrementAndGet();
      }
      int n = 0;
      for (int i = data.readerIndex(); i < data.writerIndex(); i++) {
        byte b = data.getByte(i);
        if (b == '\n' && last == '\n') {
          n++;
        }
        last = b;
      }
      deliveries.addAndGet(n);
    }
  }

  /**
   * One HTTP/1.1 stream on its own connection (the body is chunked; chunk lines never hold \n\n).
   */
  private final class H1Stream extends ChannelInboundHandlerAdapter {
    private final String topic;
    private final Counter counter = new Counter();

    H1Stream(String topic) {
      this.topic = topic;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      String t = topic.endsWith("-") ? topic + topics.incrementAndGet() : topic;
      ctx.writeAndFlush(
          Unpooled.copiedBuffer(
              "GET /events?topic=" + t + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
              StandardCharsets.US_ASCII));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf data = (ByteBuf) msg;
      try {
        // The head ends in \r\n\r\n and chunk lines in \r\n: only event ends hold \n\n.
        counter.feed(data);
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }
  }

  /** The streams of one HTTP/2 connection, as raw frames on the frame codec. */
  private final class H2Streams extends Http2ChannelDuplexHandler {
    private final String topic;
    private final int count;
    private final Map<Integer, Counter> counters = new HashMap<>();
    private boolean started;

    H2Streams(String topic, int count) {
      this.topic = topic;
      this.count = count;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2SettingsFrame && !started) {
          started = true;
          for (int i = 0; i < count; i++) {
            String t = topic.endsWith("-") ? topic + topics.incrementAndGet() : topic;
            Http2FrameStream stream = newStream();
            DefaultHttp2Headers headers = new DefaultHttp2Headers();
            headers
                .method("GET")
                .scheme(tls ? "https" : "http")
                .authority("127.0.0.1:" + port)
                .path("/events?topic=" + t);
            ctx.write(new DefaultHttp2HeadersFrame(headers, true).stream(stream));
          }
          ctx.flush();
        } else if (msg instanceof Http2HeadersFrame head) {
          counters
              .computeIfAbsent(head.stream().id(), k -> new Counter())
              .feed(Unpooled.EMPTY_BUFFER);
        } else if (msg instanceof Http2DataFrame data) {
          int id = data.stream().id();
          counters.computeIfAbsent(id, k -> new Counter()).feed(data.content());
          // Consumed at once: the client reads as fast as it can.
          ctx.write(
              new DefaultHttp2WindowUpdateFrame(data.initialFlowControlledBytes())
                  .stream(data.stream()));
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }
  }

  private long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", opts.get("pid"), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }

  private long cpuMicros() throws IOException {
    String stat = Files.readString(Path.of("/proc", opts.get("pid"), "stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    return ticks * 1_000_000 / CLOCK_TICKS_PER_SECOND;
  }

  /** Loopback only: the hub's certificate is a throwaway one. */
  private static final class TrustAll implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
