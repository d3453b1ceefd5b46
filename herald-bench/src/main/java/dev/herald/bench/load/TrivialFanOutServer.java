package dev.herald.bench.load;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ceiling: accepts {@code GET /sub?topic=t} (a raw text/event-stream, no chunking, no ids, no
 * history) and {@code POST /pub?topic=t} (writes {@code data: <body>\n\n} to every subscriber of t,
 * answers 201). Nothing else: no validation, no log, no buffering limit.
 *
 * <p>Run: {@code java -cp benchmarks.jar dev.herald.bench.load.TrivialFanOutServer <port>
 * [threads]}. Threads default to one per core, like the hub's I/O threads: more event loops than
 * cores cost every hand-off to a sleeping loop a context switch, which lowers this ceiling.
 */
public final class TrivialFanOutServer {
  private static final byte[] HEAD =
      Target.ascii(
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\r\n");
  private static final Map<String, ChannelGroup> TOPICS = new ConcurrentHashMap<>();

  private TrivialFanOutServer() {}

  /**
   * Starts the server on 127.0.0.1 and runs until killed.
   *
   * @param args the port, then optionally the number of event-loop threads
   * @throws InterruptedException if interrupted while serving
   */
  public static void main(String[] args) throws InterruptedException {
    int threads =
        args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
    EpollEventLoopGroup group = new EpollEventLoopGroup(threads);
    new ServerBootstrap()
        .group(group)
        .channel(EpollServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 4096)
        .childHandler(
            new io.netty.channel.ChannelInitializer<SocketChannel>() {
              @Override
              protected void initChannel(SocketChannel ch) {
                ch.pipeline()
                    .addLast(
                        new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Handler());
              }
            })
        .bind("127.0.0.1", Integer.parseInt(args[0]))
        .sync()
        .channel()
        .closeFuture()
        .sync();
  }

  private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      QueryStringDecoder uri = new QueryStringDecoder(req.uri());
      String topic = uri.parameters().getOrDefault("topic", java.util.List.of("")).get(0);
      ChannelGroup subscribers =
          TOPICS.computeIfAbsent(topic, t -> new DefaultChannelGroup(GlobalEventExecutor.INSTANCE));
      if (uri.path().equals("/sub")) {
        Channel ch = ctx.channel();
        ch.pipeline().remove(HttpObjectAggregator.class);
        ch.pipeline().remove(HttpServerCodec.class);
        ch.writeAndFlush(Unpooled.wrappedBuffer(HEAD));
        subscribers.add(ch);
        return;
      }
      ByteBuf frame = ctx.alloc().buffer(req.content().readableBytes() + 8);
      frame
          .writeBytes(Target.ascii("data: "))
          .writeBytes(req.content())
          .writeBytes(Target.ascii("\n\n"));
      for (Channel ch : subscribers) {
        ch.writeAndFlush(frame.retainedDuplicate(), ch.voidPromise());
      }
      frame.release();
      DefaultFullHttpResponse created =
          new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED);
      created.headers().set("Content-Length", 0);
      ctx.writeAndFlush(created);
    }
  }
}
