package dev.herald.hub.internal.subscribe;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Turns the broker's shared frame arrays into Netty buffers, copying each frame into a direct
 * buffer once and handing every channel a {@code retainedDuplicate()} of it.
 *
 * <p>The broker fans one frame out to every sink in turn, so a one-entry cache hits for every
 * channel but the first. Without it each channel's heap buffer would be copied into a direct buffer
 * by the transport: one copy per connection instead of one per event. A miss (replay frames,
 * interleaved heartbeats) costs exactly that copy, no more. The lock is held for a pointer
 * comparison and a reference-count increment; it is what keeps the cached buffer from being
 * released between the comparison and the duplicate.
 */
final class FrameBuffers {
  private final ByteBufAllocator allocator;
  private byte[] cachedFrame;
  private ByteBuf cached;

  FrameBuffers(ByteBufAllocator allocator) {
    this.allocator = allocator;
  }

  /** A buffer of {@code frame}'s bytes, owned by the caller (release it, or write it). */
  synchronized ByteBuf duplicate(byte[] frame) {
    if (frame != cachedFrame) {
      ByteBuf fresh = allocator.directBuffer(frame.length, frame.length).writeBytes(frame);
      if (cached != null) {
        cached.release();
      }
      cached = fresh;
      cachedFrame = frame;
    }
    return cached.retainedDuplicate();
  }

  /** Releases the cached buffer; channels still holding duplicates keep it alive. */
  synchronized void close() {
    if (cached != null) {
      cached.release();
      cached = null;
      cachedFrame = null;
    }
  }
}
