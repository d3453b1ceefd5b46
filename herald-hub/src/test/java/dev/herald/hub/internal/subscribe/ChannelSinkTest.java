package dev.herald.hub.internal.subscribe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.hub.internal.http.ConnectionLimiter;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Position;
import dev.herald.server.Subscription;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The stream's end of a channel in memory: the stripped pipeline, the chunks it writes, its bound
 * and its endings. The test thread plays the broker's thread; {@code runPendingTasks} is the event
 * loop getting round to the drain.
 */
class ChannelSinkTest {
  private final PooledByteBufAllocator allocator = new PooledByteBufAllocator(true);
  private final FrameBuffers buffers = new FrameBuffers(allocator);
  private final Broker broker = Broker.builder().heartbeat(Duration.ZERO).build();
  private final List<ByteBuf> inbound = new ArrayList<>();

  @AfterEach
  void closeAll() {
    buffers.close();
    broker.close();
    inbound.forEach(b -> assertThat(b.refCnt()).as("inbound bytes released").isZero());
  }

  /** A channel with the hub's request handlers in front, as the pipeline has them. */
  private EmbeddedChannel requestChannel() {
    EmbeddedChannel channel =
        new EmbeddedChannel(
            new HttpServerCodec(), new ResponseOrder(), new ConnectionLimiter(0, 0));
    channel.pipeline().addLast("router", new ChannelInboundHandlerAdapter());
    channel.pipeline().addLast("errors", new ChannelInboundHandlerAdapter());
    return channel;
  }

  /** Subscribes {@code sink}, writes the head through the pipeline and starts the stream. */
  private Subscription open(EmbeddedChannel channel, ChannelSink sink) {
    Subscription subscription = broker.subscribe(Set.of("t"), Position.live(), sink);
    sink.attach(subscription);
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    channel.write(head);
    sink.start();
    channel.runPendingTasks();
    return subscription;
  }

  private static String outbound(EmbeddedChannel channel) {
    StringBuilder s = new StringBuilder();
    ByteBuf buf;
    while ((buf = channel.readOutbound()) != null) {
      s.append(buf.toString(StandardCharsets.UTF_8));
      buf.release();
    }
    return s.toString();
  }

  private static byte[] frame(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void startLeavesOnlyTheConnectionLimiterAndTheStreamInThePipeline() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    open(channel, sink);

    assertThat(channel.pipeline().names())
        .filteredOn(name -> !name.startsWith("DefaultChannelPipeline$TailContext"))
        .hasSize(2)
        .contains("stream");
    assertThat(channel.pipeline().get(ConnectionLimiter.class)).isNotNull();
    assertThat(outbound(channel))
        .startsWith("HTTP/1.1 200 OK\r\n")
        .endsWith("\r\n\r\n4\r\n:ok\n\r\n");
    assertThat(channel.config().isAutoRead()).isTrue();
    channel.finishAndReleaseAll();
  }

  @Test
  void framesQueuedBeforeTheHeadFollowItAsChunksInOrder() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    Subscription subscription = broker.subscribe(Set.of("t"), Position.live(), sink);
    sink.attach(subscription);
    // The broker may send before the event loop has written the head: nothing is written yet.
    assertThat(sink.send(frame("data: 1\n\n"))).isTrue();
    assertThat(sink.send(frame("data: 22\n\n"))).isTrue();
    channel.runPendingTasks();
    assertThat((Object) channel.readOutbound()).isNull();

    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    channel.write(head);
    sink.start();
    assertThat(outbound(channel))
        .endsWith("\r\n\r\n4\r\n:ok\n\r\n9\r\ndata: 1\n\n\r\na\r\ndata: 22\n\n\r\n");

    assertThat(sink.send(frame(":\n"))).isTrue();
    channel.runPendingTasks();
    assertThat(outbound(channel)).isEqualTo("2\r\n:\n\r\n");
    channel.finishAndReleaseAll();
  }

  @Test
  void unsentBytesAreBoundedExactlyAndFallWhenWritten() {
    EmbeddedChannel channel = requestChannel();
    byte[] frame = frame("data: 1234\n\n"); // 12 bytes: a 18-byte chunk
    ChannelSink sink = new ChannelSink(channel, buffers, 36);
    open(channel, sink);
    outbound(channel);

    assertThat(sink.send(frame)).isTrue();
    assertThat(sink.send(frame)).as("exactly at the bound").isTrue();
    assertThat(sink.send(frame)).as("one byte over").isFalse();
    // The event loop writes the batch; the socket (here: the embedded channel) takes it all.
    channel.runPendingTasks();
    assertThat(outbound(channel)).isEqualTo("c\r\ndata: 1234\n\n\r\n".repeat(2));
    assertThat(sink.send(frame)).as("room again once written").isTrue();
    channel.runPendingTasks();
    assertThat(outbound(channel)).isEqualTo("c\r\ndata: 1234\n\n\r\n");
    channel.finishAndReleaseAll();
  }

  @Test
  void aCleanEndWritesQueuedFramesThenTheTerminatingChunkAndCloses() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    open(channel, sink);
    outbound(channel);

    sink.send(frame("data: last\n\n"));
    sink.closed(CloseReason.SHUTDOWN);
    assertThat(sink.send(frame("data: after\n\n"))).as("dropped, not refused").isTrue();
    channel.runPendingTasks();
    assertThat(outbound(channel)).isEqualTo("c\r\ndata: last\n\n\r\n0\r\n\r\n");
    assertThat(channel.isOpen()).isFalse();
    channel.finishAndReleaseAll();
  }

  @Test
  void aSlowConsumerIsClosedAtOnceAndWhatItHadQueuedIsReleased() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    Subscription subscription = open(channel, sink);
    outbound(channel);

    byte[] frame = frame("data: queued\n\n");
    sink.send(frame);
    ByteBuf shared = buffers.chunk(frame);
    ByteBuf underlying = shared.unwrap();
    shared.release();
    subscription.close(CloseReason.SLOW_CONSUMER);
    channel.runPendingTasks();

    assertThat(channel.isOpen()).isFalse();
    // A drain already queued on the event loop may run before the close: never the clean end.
    assertThat(outbound(channel)).doesNotContain("0\r\n\r\n");
    buffers.close();
    assertThat(underlying.refCnt()).as("the queued chunk was released").isZero();
    channel.finishAndReleaseAll();
  }

  @Test
  void whatTheClientSendsOnAStreamIsDropped() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    Subscription subscription = open(channel, sink);
    outbound(channel);

    for (String junk :
        List.of(
            "GET /events?topic=x HTTP/1.1\r\n\r\n", "POST /events HTTP/1.1\r\n", "\0\1\2garbage")) {
      ByteBuf buf = Unpooled.copiedBuffer(junk, StandardCharsets.ISO_8859_1);
      inbound.add(buf);
      channel.writeInbound(buf);
    }
    assertThat((Object) channel.readInbound()).isNull();
    assertThat(outbound(channel)).isEmpty();
    assertThat(channel.isOpen()).isTrue();
    assertThat(subscription.isOpen()).isTrue();
    channel.finishAndReleaseAll();
  }

  @Test
  void closingTheConnectionClosesTheSubscription() {
    EmbeddedChannel channel = requestChannel();
    ChannelSink sink = new ChannelSink(channel, buffers, 1 << 20);
    Subscription subscription = open(channel, sink);
    outbound(channel);
    channel.close();
    assertThat(subscription.isOpen()).isFalse();
    assertThat(sink.send(frame("data: late\n\n"))).isTrue();
    channel.runPendingTasks();
    assertThat(outbound(channel)).isEmpty();
    channel.finishAndReleaseAll();
  }
}
