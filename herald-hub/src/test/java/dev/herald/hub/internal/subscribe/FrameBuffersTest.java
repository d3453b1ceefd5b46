package dev.herald.hub.internal.subscribe;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameBuffersTest {
  // Unpooled, without leak tracking: its duplicates share the parent's reference count, so a test
  // can watch the one shared copy being retained and released (a pooled duplicate, or a leak
  // detector's wrapper, counts on its own).
  private final UnpooledByteBufAllocator allocator = new UnpooledByteBufAllocator(true, true);

  @Test
  void everyChannelOfOneFrameSharesOneDirectChunk() {
    FrameBuffers buffers = new FrameBuffers(allocator);
    byte[] frame = "data: x\n\n".getBytes(StandardCharsets.UTF_8);
    ByteBuf a = buffers.chunk(frame);
    ByteBuf b = buffers.chunk(frame);
    assertThat(a.isDirect()).isTrue();
    // One copy: what is written through one duplicate shows in the other (compared by content,
    // not by unwrap(): leak detection wraps every buffer in a tracker of its own).
    a.setByte(0, 'Z');
    assertThat(b.getByte(0)).isEqualTo((byte) 'Z');
    a.setByte(0, '9');
    assertThat(a.toString(StandardCharsets.UTF_8)).isEqualTo("9\r\ndata: x\n\n\r\n");
    // Independent indices: one channel's write does not consume another's.
    a.skipBytes(a.readableBytes());
    assertThat(b.readableBytes()).isEqualTo(frame.length + 5);
    a.release();
    b.release();
    buffers.close();
  }

  @Test
  void aFrameLeavingTheCacheIsReleasedOnceItsChannelsAreDone() {
    FrameBuffers buffers = new FrameBuffers(allocator);
    ByteBuf first = buffers.chunk("data: 1\n\n".getBytes(StandardCharsets.UTF_8));
    ByteBuf second = buffers.chunk("data: 2\n\n".getBytes(StandardCharsets.UTF_8));
    assertThat(first.refCnt()).as("held by the cache and the first channel").isEqualTo(2);
    // A third frame evicts the least recently used, the first.
    ByteBuf third = buffers.chunk("data: 3\n\n".getBytes(StandardCharsets.UTF_8));
    assertThat(first.refCnt()).as("still held by the first channel").isEqualTo(1);
    first.release();
    assertThat(first.refCnt()).isZero();
    assertThat(second.toString(StandardCharsets.UTF_8)).isEqualTo("9\r\ndata: 2\n\n\r\n");
    second.release();
    third.release();
    buffers.close();
    assertThat(second.refCnt()).isZero();
    assertThat(third.refCnt()).isZero();
  }

  @Test
  void heartbeatsInterleavedWithAnEventDoNotEvictIt() {
    FrameBuffers buffers = new FrameBuffers(allocator);
    byte[] event = "data: e\n\n".getBytes(StandardCharsets.UTF_8);
    byte[] heartbeat = {':', '\n'};
    ByteBuf a = buffers.chunk(event);
    ByteBuf h1 = buffers.chunk(heartbeat);
    ByteBuf b = buffers.chunk(event);
    ByteBuf h2 = buffers.chunk(heartbeat);
    a.setByte(0, 'Z');
    h1.setByte(0, 'Y');
    assertThat(b.getByte(0)).as("the same copy of the event").isEqualTo((byte) 'Z');
    assertThat(h2.getByte(0)).as("the same copy of the heartbeat").isEqualTo((byte) 'Y');
    List.of(a, h1, b, h2).forEach(ByteBuf::release);
    buffers.close();
    assertThat(a.refCnt()).isZero();
    assertThat(h1.refCnt()).isZero();
  }

  @Test
  void theChunkSizeIsHexadecimal() {
    byte[] frame = new byte[300];
    java.util.Arrays.fill(frame, (byte) 'x');
    ByteBuf chunk = FrameBuffers.encode(allocator, frame);
    assertThat(chunk.toString(StandardCharsets.US_ASCII))
        .startsWith("12c\r\nxxx")
        .endsWith("xx\r\n");
    assertThat(chunk.readableBytes()).isEqualTo(3 + 2 + 300 + 2);
    chunk.release();
  }

  @Test
  void anEmptyFrameIsRefusedRatherThanEndingTheResponse() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> FrameBuffers.encode(allocator, new byte[0]))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
