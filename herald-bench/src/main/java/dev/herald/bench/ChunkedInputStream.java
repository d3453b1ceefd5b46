package dev.herald.bench;

import java.io.InputStream;

/**
 * An in-memory stream that hands out at most {@code chunk} bytes per read, as a socket does with 8
 * KiB network reads. Unlike {@link java.io.ByteArrayInputStream} it is not synchronized.
 */
final class ChunkedInputStream extends InputStream {
  private final byte[] bytes;
  private final int chunk;
  private int position;

  ChunkedInputStream(byte[] bytes, int chunk) {
    this.bytes = bytes;
    this.chunk = chunk;
  }

  @Override
  public int read() {
    return position < bytes.length ? bytes[position++] & 0xFF : -1;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    if (position >= bytes.length) {
      return -1;
    }
    int n = Math.min(Math.min(len, chunk), bytes.length - position);
    System.arraycopy(bytes, position, b, off, n);
    position += n;
    return n;
  }
}
