package dev.herald.hub.internal.subscribe;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;

/**
 * Turns the broker's shared frame arrays into HTTP chunks ready for the socket: the chunk-size
 * line, the frame and the closing CRLF, encoded once into one direct buffer, of which every channel
 * gets a {@code retainedDuplicate()}.
 *
 * <p>The broker fans one frame out to every sink in turn, so a small cache hits for every channel
 * but the first. Without it each channel would copy the frame (and frame it as a chunk) itself: one
 * copy per connection instead of one per event. It holds two frames, because two threads fan out at
 * once: the publisher's (events) and the broker's scheduler (heartbeats, one shared array); with
 * one entry they would evict each other on every call. A miss (replay frames) costs exactly that
 * copy, no more. The lock is held for pointer comparisons and a reference-count increment; it is
 * what keeps a cached buffer from being released between the comparison and the duplicate.
 */
final class FrameBuffers {
  private static final int CRLF = ('\r' << 8) | '\n';

  private final ByteBufAllocator allocator;
  // Two entries; on a miss the one used less recently is replaced.
  private byte[] frameA;
  private ByteBuf chunkA;
  private byte[] frameB;
  private ByteBuf chunkB;

  FrameBuffers(ByteBufAllocator allocator) {
    this.allocator = allocator;
  }

  /**
   * {@code frame} as one HTTP/1.1 chunk, owned by the caller (release it, or write it). Never
   * empty: an empty chunk would end the response, so an empty frame is not allowed.
   */
  synchronized ByteBuf chunk(byte[] frame) {
    if (frame == frameA) {
      return chunkA.retainedDuplicate();
    }
    if (frame != frameB) {
      ByteBuf fresh = encode(allocator, frame);
      if (chunkB != null) {
        chunkB.release();
      }
      chunkB = fresh;
      frameB = frame;
    }
    // The entry just used becomes A, the most recent.
    byte[] f = frameA;
    ByteBuf c = chunkA;
    frameA = frameB;
    chunkA = chunkB;
    frameB = f;
    chunkB = c;
    return chunkA.retainedDuplicate();
  }

  /** {@code frame} framed as one chunk in a new direct buffer. */
  static ByteBuf encode(ByteBufAllocator allocator, byte[] frame) {
    if (frame.length == 0) {
      throw new IllegalArgumentException("an empty chunk would end the response");
    }
    String size = Integer.toHexString(frame.length);
    int length = size.length() + 2 + frame.length + 2;
    ByteBuf chunk = allocator.directBuffer(length, length);
    ByteBufUtil.writeAscii(chunk, size);
    chunk.writeShort(CRLF).writeBytes(frame).writeShort(CRLF);
    return chunk;
  }

  /** Releases the cached buffers; channels still holding duplicates keep them alive. */
  synchronized void close() {
    if (chunkA != null) {
      chunkA.release();
    }
    if (chunkB != null) {
      chunkB.release();
    }
    chunkA = null;
    chunkB = null;
    frameA = null;
    frameB = null;
  }
}
