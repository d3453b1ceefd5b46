package dev.herald.hub.internal.subscribe;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameBuffersTest {
  private final PooledByteBufAllocator allocator = new PooledByteBufAllocator(true);

  @Test
  void everyChannelOfOneFrameSharesOneDirectCopy() {
    FrameBuffers buffers = new FrameBuffers(allocator);
    byte[] frame = "data: x\n\n".getBytes(StandardCharsets.UTF_8);
    ByteBuf a = buffers.duplicate(frame);
    ByteBuf b = buffers.duplicate(frame);
    assertThat(a.isDirect()).isTrue();
    assertThat(a.unwrap()).isSameAs(b.unwrap());
    assertThat(a.toString(StandardCharsets.UTF_8)).isEqualTo("data: x\n\n");
    // Independent indices: one channel's write does not consume another's.
    a.skipBytes(a.readableBytes());
    assertThat(b.readableBytes()).isEqualTo(frame.length);
    a.release();
    b.release();
    buffers.close();
  }

  @Test
  void aNewFrameReleasesTheOldCopyOnceItsChannelsAreDone() {
    FrameBuffers buffers = new FrameBuffers(allocator);
    ByteBuf first = buffers.duplicate("data: 1\n\n".getBytes(StandardCharsets.UTF_8));
    ByteBuf shared = first.unwrap();
    ByteBuf second = buffers.duplicate("data: 2\n\n".getBytes(StandardCharsets.UTF_8));
    assertThat(shared.refCnt()).as("still held by the first channel").isEqualTo(1);
    first.release();
    assertThat(shared.refCnt()).isZero();
    assertThat(second.toString(StandardCharsets.UTF_8)).isEqualTo("data: 2\n\n");
    ByteBuf secondShared = second.unwrap();
    second.release();
    buffers.close();
    assertThat(secondShared.refCnt()).isZero();
  }
}
