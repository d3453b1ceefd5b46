package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.core.SseParser;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 2,000 real connections subscribe to one topic; every one receives every event, in order. The
 * subscribers are a small Netty client (one event loop thread, SseParser per connection), far
 * lighter than 2,000 HttpClient streams.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ManySubscribersTest {
  private static final int SUBSCRIBERS = 2000;
  private static final int EVENTS = 200;

  @Test
  void twoThousandSubscribersEachReceiveEveryEventInOrder() throws Exception {
    NioEventLoopGroup group = new NioEventLoopGroup(2);
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    CountDownLatch opened = new CountDownLatch(SUBSCRIBERS);
    CountDownLatch done = new CountDownLatch(SUBSCRIBERS);
    // 2000 connections at once are this test's point, not a reconnect storm.
    try (HubFixture f = new HubFixture(Hub.builder().maxNewConnectionsPerSecond(0))) {
      int port = f.hub.address().getPort();
      Bootstrap bootstrap =
          new Bootstrap()
              .group(group)
              .channel(NioSocketChannel.class)
              .handler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      ch.pipeline()
                          .addLast(new HttpClientCodec())
                          .addLast(new Subscriber(opened, done, problems));
                    }
                  });
      List<Channel> channels = new ArrayList<>();
      for (int i = 0; i < SUBSCRIBERS; i++) {
        ChannelFuture connect = bootstrap.connect("127.0.0.1", port);
        channels.add(connect.channel());
        connect.addListener(
            c -> {
              if (!c.isSuccess()) {
                problems.add("connect failed: " + c.cause());
                return;
              }
              DefaultFullHttpRequest get =
                  new DefaultFullHttpRequest(
                      HttpVersion.HTTP_1_1, HttpMethod.GET, "/events?topic=fan");
              get.headers().set(HttpHeaderNames.HOST, "127.0.0.1");
              connect.channel().writeAndFlush(get);
            });
      }
      assertThat(opened.await(20, TimeUnit.SECONDS)).as("all streams open").isTrue();
      for (int i = 0; i < EVENTS; i++) {
        f.publish("{\"topic\": \"fan\", \"data\": \"" + i + "\"}");
      }
      assertThat(done.await(30, TimeUnit.SECONDS))
          .as("every subscriber got every event; problems: %s", problems)
          .isTrue();
      assertThat(problems).isEmpty();
      for (Channel channel : channels) {
        channel.close();
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
  }

  /** One connection: checks the head, parses the stream, checks each event is the next one. */
  private static final class Subscriber extends SimpleChannelInboundHandler<HttpObject> {
    private final CountDownLatch opened;
    private final CountDownLatch done;
    private final Queue<String> problems;
    private int expected;
    private final SseParser parser;

    Subscriber(CountDownLatch opened, CountDownLatch done, Queue<String> problems) {
      this.opened = opened;
      this.done = done;
      this.problems = problems;
      this.parser =
          SseParser.create(
              new SseParser.Handler() {
                @Override
                public void onEvent(Event event) {
                  if (!event.data().equals(Integer.toString(expected))) {
                    problems.add("expected " + expected + ", got " + event.data());
                  }
                  expected++;
                  if (expected == EVENTS) {
                    done.countDown();
                  }
                }

                @Override
                public void onComment(String comment) {
                  if (comment.equals("ok")) {
                    opened.countDown();
                  }
                }
              });
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
      if (msg instanceof HttpResponse response && response.status().code() != 200) {
        problems.add("status " + response.status());
      }
      if (msg instanceof HttpContent content) {
        ByteBuf buf = content.content();
        byte[] bytes = new byte[buf.readableBytes()];
        buf.readBytes(bytes);
        parser.feed(bytes);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      problems.add(cause.toString());
      ctx.close();
    }
  }
}
