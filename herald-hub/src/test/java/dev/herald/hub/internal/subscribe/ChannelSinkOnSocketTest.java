package dev.herald.hub.internal.subscribe;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bound on a real socket whose client stops reading: the bytes the socket could not take stay
 * counted until the client reads them, then the stream has room again and goes on where it was.
 */
class ChannelSinkOnSocketTest {
  private static final int BOUND = 64 * 1024;

  private final NioEventLoopGroup group = new NioEventLoopGroup(1);
  private final FrameBuffers buffers = new FrameBuffers(new PooledByteBufAllocator(true));

  @AfterEach
  void close() throws InterruptedException {
    buffers.close();
    group.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
  }

  @Test
  void bytesTheSocketCouldNotTakeStayUnsentUntilTheClientReadsThem() throws Exception {
    CompletableFuture<Channel> accepted = new CompletableFuture<>();
    Channel server =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childOption(ChannelOption.SO_SNDBUF, 4096)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    accepted.complete(ch);
                  }
                })
            .bind("127.0.0.1", 0)
            .sync()
            .channel();
    try (Socket client = new Socket()) {
      client.setReceiveBufferSize(4096);
      client.setSoTimeout(10_000);
      client.connect(server.localAddress());
      Channel channel = accepted.get(10, TimeUnit.SECONDS);
      ChannelSink sink = new ChannelSink(channel, buffers, BOUND);
      channel.eventLoop().submit(sink::start).get(10, TimeUnit.SECONDS);

      byte[] frame = new byte[1000];
      Arrays.fill(frame, (byte) 'x');
      System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
      frame[998] = '\n';
      frame[999] = '\n';
      int chunk = "3e8\r\n".length() + frame.length + "\r\n".length();

      // The client reads nothing: the kernel's buffers fill, then the channel's, then the bound.
      int sent = 0;
      while (sent < 100_000 && sink.send(frame)) {
        sent++;
      }
      assertThat(sent).as("refused once the bound is reached").isLessThan(100_000);
      assertThat(sink.writable()).as("the unsent bytes are counted").isFalse();

      InputStream in = client.getInputStream();
      byte[] opening = in.readNBytes("4\r\n:ok\n\r\n".length());
      assertThat(new String(opening, StandardCharsets.US_ASCII)).isEqualTo("4\r\n:ok\n\r\n");
      byte[] events = in.readNBytes(sent * chunk);
      assertThat(events).hasSize(sent * chunk);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!sink.writable() && System.nanoTime() < deadline) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
      assertThat(sink.writable()).as("room again once the client has read it all").isTrue();

      assertThat(sink.send(frame)).isTrue();
      byte[] next = in.readNBytes(chunk);
      assertThat(new String(next, StandardCharsets.US_ASCII))
          .isEqualTo("3e8\r\n" + new String(frame, StandardCharsets.US_ASCII) + "\r\n");
      channel.close().sync();
    } finally {
      server.close().sync();
    }
  }
}
