package dev.herald.hub.testing;

import dev.herald.core.Event;
import dev.herald.core.SseParser;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A test HTTP/2 client on Netty: one connection (over TLS with ALPN {@code h2}, or cleartext by
 * prior knowledge), many streams on it, each an HTTP exchange. It controls what the JDK client
 * hides: a stream can stop reading (its flow-control window is then never replenished) while the
 * others go on, the server's SETTINGS and GOAWAY are recorded, and a reset is told from a clean
 * end. Its connection window is opened wide, so one stalled stream cannot block the others.
 */
public final class H2Client implements AutoCloseable {
  private static final int CONNECTION_WINDOW = 64 << 20;

  private final EventLoopGroup group = new NioEventLoopGroup(1);
  private final Channel connection;
  private final CompletableFuture<Http2Settings> settings = new CompletableFuture<>();
  private final CompletableFuture<Long> goAway = new CompletableFuture<>();
  private final String authority;
  private final List<Exchange> exchanges = new CopyOnWriteArrayList<>();

  private H2Client(int port, X509Certificate trusted) throws Exception {
    SslContext tls =
        trusted == null
            ? null
            : SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .trustManager(trusted)
                .applicationProtocolConfig(
                    new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2))
                .build();
    authority = "localhost:" + port;
    connection =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    if (tls != null) {
                      ch.pipeline().addLast(tls.newHandler(ch.alloc(), "localhost", port));
                    }
                    // Closing does not wait for open streams: a test closes with streams open.
                    ch.pipeline()
                        .addLast(
                            Http2FrameCodecBuilder.forClient()
                                .gracefulShutdownTimeoutMillis(0)
                                .build());
                    ch.pipeline()
                        .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    ch.pipeline().addLast(new ConnectionFrames());
                  }
                })
            .connect("127.0.0.1", port)
            .sync()
            .channel();
    if (tls != null) {
      SslHandler ssl = connection.pipeline().get(SslHandler.class);
      ssl.handshakeFuture().get(10, TimeUnit.SECONDS);
      if (!ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
        throw new IllegalStateException("ALPN chose " + ssl.applicationProtocol() + ", not h2");
      }
    }
    settings.get(10, TimeUnit.SECONDS);
  }

  /** Connects by prior knowledge (h2c) to 127.0.0.1:{@code port}. */
  public static H2Client cleartext(int port) throws Exception {
    return new H2Client(port, null);
  }

  /** Connects over TLS to 127.0.0.1:{@code port}, trusting {@code root}; fails unless ALPN h2. */
  public static H2Client tls(int port, X509Certificate root) throws Exception {
    return new H2Client(port, root);
  }

  /** The server's first SETTINGS. */
  public Http2Settings serverSettings() {
    return settings.join();
  }

  /** Completes with its error code when the server sends GOAWAY. */
  public CompletableFuture<Long> goAway() {
    return goAway;
  }

  /** Whether the connection is open. */
  public boolean isOpen() {
    return connection.isActive();
  }

  /** Completes when the connection closes. */
  public CompletableFuture<Void> closed() {
    CompletableFuture<Void> closed = new CompletableFuture<>();
    connection.closeFuture().addListener(f -> closed.complete(null));
    return closed;
  }

  /** Sends a request on a new stream; {@code headers} are name, value pairs. */
  public Exchange send(String method, String path, String body, String... headers)
      throws Exception {
    Exchange exchange = new Exchange();
    Http2StreamChannel stream =
        new Http2StreamChannelBootstrap(connection)
            .handler(
                new ChannelInitializer<Http2StreamChannel>() {
                  @Override
                  protected void initChannel(Http2StreamChannel ch) {
                    ch.pipeline().addLast(exchange.wire);
                    ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false));
                    ch.pipeline().addLast(exchange);
                  }
                })
            .open()
            .get(10, TimeUnit.SECONDS);
    exchange.channel = stream;
    exchanges.add(exchange);
    ByteBuf content =
        body == null ? Unpooled.EMPTY_BUFFER : Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    FullHttpRequest request =
        new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), path, content);
    request.headers().set(HttpHeaderNames.HOST, authority);
    for (int i = 0; i + 1 < headers.length; i += 2) {
      request.headers().add(headers[i], headers[i + 1]);
    }
    if (body != null) {
      request.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
    }
    stream.writeAndFlush(request).get(10, TimeUnit.SECONDS);
    return exchange;
  }

  /** A GET on a new stream. */
  public Exchange get(String path, String... headers) throws Exception {
    return send("GET", path, null, headers);
  }

  /** A POST of a JSON body on a new stream. */
  public Exchange postJson(String path, String json, String... headers) throws Exception {
    String[] all = new String[headers.length + 2];
    all[0] = "content-type";
    all[1] = "application/json";
    System.arraycopy(headers, 0, all, 2, headers.length);
    return send("POST", path, json, all);
  }

  @Override
  public void close() {
    // A stalled stream holds the frames it has not read; reading them releases them.
    connection
        .eventLoop()
        .submit(
            () -> {
              for (Exchange exchange : exchanges) {
                exchange.channel.config().setAutoRead(true);
                exchange.channel.read();
                exchange.channel.close();
              }
            })
        .awaitUninterruptibly(5, TimeUnit.SECONDS);
    connection.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }

  /** One stream: its response head, body (and events, parsed as they arrive), and its end. */
  public static final class Exchange extends ChannelInboundHandlerAdapter {
    private final CompletableFuture<HttpResponse> head = new CompletableFuture<>();
    private final CompletableFuture<Boolean> ended = new CompletableFuture<>();
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final SseParser parser = SseParser.create(events::add);
    private volatile boolean reset;
    private volatile boolean stall;
    private Http2StreamChannel channel;
    private volatile Http2Headers wireHeaders;
    // Before the codec: records the response's header fields as they came over the wire.
    private final ChannelInboundHandlerAdapter wire =
        new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame frame && wireHeaders == null) {
              wireHeaders = frame.headers();
            }
            ctx.fireChannelRead(msg);
          }
        };

    /**
     * A response header field as it came over the wire (the HTTP/2 field, before any conversion to
     * HTTP/1.1), or null; once the head has arrived.
     */
    public String wireHeader(String name) throws Exception {
      head();
      CharSequence value = wireHeaders.get(name);
      return value == null ? null : value.toString();
    }

    /** The response head, within 10 s. */
    public HttpResponse head() throws Exception {
      return head.get(10, TimeUnit.SECONDS);
    }

    /** The response status, within 10 s. */
    public int status() throws Exception {
      return head().status().code();
    }

    /** The whole body, once the stream has ended (within 10 s). */
    public String body() throws Exception {
      awaitEnd(Duration.ofSeconds(10));
      synchronized (body) {
        return body.toString(StandardCharsets.UTF_8);
      }
    }

    /** The next event within {@code timeout}, or null. */
    public Event next(Duration timeout) throws InterruptedException {
      return events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Completes with true when the stream ended cleanly (END_STREAM), false when it was reset or
     * its connection closed.
     */
    public CompletableFuture<Boolean> ended() {
      return ended;
    }

    /** Waits up to {@code timeout} for the end; true if it ended cleanly. */
    public boolean awaitEnd(Duration timeout) throws Exception {
      return ended.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether the server reset the stream (RST_STREAM). */
    public boolean wasReset() {
      return reset;
    }

    /**
     * Stops reading this stream once its head has arrived: what the server sends then fills the
     * stream's flow-control window, which is never replenished.
     */
    public Exchange stallAfterHead() {
      stall = true;
      channel
          .eventLoop()
          .execute(
              () -> {
                if (head.isDone()) {
                  channel.config().setAutoRead(false);
                }
              });
      return this;
    }

    /** Reads again (replenishing the window), e.g. to observe how the stream ended. */
    public void resume() {
      stall = false;
      channel
          .eventLoop()
          .execute(
              () -> {
                channel.config().setAutoRead(true);
                channel.read();
              });
    }

    /** Resets the stream from the client's side (RST_STREAM CANCEL). */
    public void cancel() {
      channel.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof HttpResponse response) {
          head.complete(response);
          if (stall) {
            ctx.channel().config().setAutoRead(false);
          }
        }
        if (msg instanceof HttpContent content) {
          ByteBuf data = content.content();
          byte[] bytes = new byte[data.readableBytes()];
          data.getBytes(data.readerIndex(), bytes);
          synchronized (body) {
            body.writeBytes(bytes);
          }
          parser.feed(bytes, 0, bytes.length);
          if (msg instanceof LastHttpContent) {
            ended.complete(true);
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof Http2ResetFrame) {
        reset = true;
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      ended.complete(false);
      head.completeExceptionally(new IllegalStateException("the stream closed before its head"));
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ended.complete(false);
      head.completeExceptionally(cause);
      ctx.close();
    }
  }

  /** Records the server's SETTINGS and GOAWAY, and opens the connection window wide. */
  private final class ConnectionFrames extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2SettingsFrame frame && !settings.isDone()) {
          Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
          try {
            codec
                .connection()
                .local()
                .flowController()
                .incrementWindowSize(codec.connection().connectionStream(), CONNECTION_WINDOW);
            ctx.flush();
          } catch (Exception e) {
            settings.completeExceptionally(e);
            return;
          }
          settings.complete(frame.settings());
        }
        if (msg instanceof Http2GoAwayFrame frame) {
          // The code only: the frame (its debug data) is released below.
          goAway.complete(frame.errorCode());
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      settings.completeExceptionally(new IllegalStateException("connection closed"));
      ctx.fireChannelInactive();
    }
  }
}
