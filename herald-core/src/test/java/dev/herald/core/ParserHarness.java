package dev.herald.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Recorder.Seen;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Feeds one stream to fresh parsers in every way a network can deliver it — whole, byte by byte,
 * split in two at every possible point, and cut at random points — through every feeding API (array
 * slices, heap, direct and read-only buffers), and checks that every way reports exactly the same
 * thing.
 *
 * <p>Random cuts come from one seed per JVM, printed at start and in every failure message; rerun a
 * failure with {@code -Dherald.test.seed=<seed>}.
 */
final class ParserHarness {
  static final long SEED = Long.getLong("herald.test.seed", new Random().nextLong());

  static {
    System.out.println(
        "[herald-core] random seed "
            + SEED
            + " (repeat a run with -Dherald.test.seed="
            + SEED
            + ")");
  }

  private static final int RANDOM_CUTS = 12;

  /** How a chunk is handed to the parser. */
  enum Feed {
    /** {@code feed(byte[], offset, length)} on a larger array with junk around the chunk. */
    ARRAY_SLICE,
    /** {@code feed(byte[])} on an exact copy. */
    WHOLE_ARRAY,
    /** A heap buffer sliced out of a larger array, so its array offset is not zero. */
    HEAP_BUFFER,
    /** A direct buffer: no backing array. */
    DIRECT_BUFFER,
    /** A read-only heap buffer: its array is not accessible. */
    READ_ONLY_BUFFER;

    void feed(SseParser parser, byte[] chunk) {
      switch (this) {
        case ARRAY_SLICE -> {
          byte[] padded = new byte[chunk.length + 6];
          // Junk that would corrupt the result if the parser read outside its slice.
          Arrays.fill(padded, (byte) '\n');
          System.arraycopy(chunk, 0, padded, 3, chunk.length);
          parser.feed(padded, 3, chunk.length);
        }
        case WHOLE_ARRAY -> parser.feed(chunk.clone());
        case HEAP_BUFFER -> {
          byte[] padded = new byte[chunk.length + 6];
          Arrays.fill(padded, (byte) '\r');
          System.arraycopy(chunk, 0, padded, 3, chunk.length);
          ByteBuffer buffer = ByteBuffer.wrap(padded, 3, chunk.length).slice();
          parser.feed(buffer);
          assertThat(buffer.hasRemaining()).as("heap buffer consumed").isFalse();
        }
        case DIRECT_BUFFER -> {
          ByteBuffer buffer = ByteBuffer.allocateDirect(chunk.length);
          buffer.put(chunk).flip();
          parser.feed(buffer);
          assertThat(buffer.hasRemaining()).as("direct buffer consumed").isFalse();
        }
        case READ_ONLY_BUFFER -> {
          ByteBuffer buffer = ByteBuffer.wrap(chunk.clone()).asReadOnlyBuffer();
          parser.feed(buffer);
          assertThat(buffer.hasRemaining()).as("read-only buffer consumed").isFalse();
        }
      }
    }
  }

  /** The line ending a line-ending-agnostic stream is written with. */
  enum LineEnding {
    /** The stream exactly as the case wrote it (for streams that mix line endings on purpose). */
    AS_WRITTEN(""),
    LF("\n"),
    CR("\r"),
    CRLF("\r\n");

    final byte[] bytes;

    LineEnding(String ending) {
      this.bytes = ending.getBytes(StandardCharsets.US_ASCII);
    }

    /** Rewrites every LF of {@code input} (which must contain no CR) as this line ending. */
    byte[] apply(byte[] input) {
      if (this == AS_WRITTEN) {
        return input;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(input.length * 2);
      for (byte b : input) {
        if (b == '\r') {
          throw new IllegalArgumentException("not line-ending agnostic: contains CR");
        }
        if (b == '\n') {
          out.writeBytes(bytes);
        } else {
          out.write(b);
        }
      }
      return out.toByteArray();
    }
  }

  /** What a parser reported, and its last event ID afterwards. */
  record Outcome(List<Seen> seen, String lastEventId) {}

  private ParserHarness() {}

  /**
   * Parses {@code input} in one piece with a parser that starts from {@code initialLastEventId}.
   */
  static Outcome parse(byte[] input, String initialLastEventId) {
    return parse(List.of(input), Feed.ARRAY_SLICE, initialLastEventId);
  }

  static Outcome parse(byte[] input) {
    return parse(input, "");
  }

  static Outcome parse(String input) {
    return parse(input.getBytes(StandardCharsets.UTF_8));
  }

  static Outcome parse(List<byte[]> chunks, Feed feed, String initialLastEventId) {
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.builder().lastEventId(initialLastEventId).build(recorder);
    for (byte[] chunk : chunks) {
      feed.feed(parser, chunk);
    }
    return new Outcome(recorder.seen, parser.lastEventId());
  }

  /**
   * Asserts that {@code input}, fed in every way, reports {@code expected} and leaves {@code
   * expectedLastEventId}.
   */
  static void assertEverySplit(
      String name,
      byte[] input,
      String initialLastEventId,
      List<Seen> expected,
      String expectedLastEventId) {
    Outcome want = new Outcome(expected, expectedLastEventId);
    for (Feed feed : Feed.values()) {
      check(name, "whole", feed, List.of(input), initialLastEventId, want);
      List<byte[]> bytes = new ArrayList<>(input.length);
      for (byte b : input) {
        bytes.add(new byte[] {b});
      }
      check(name, "byte by byte", feed, bytes, initialLastEventId, want);
    }
    Feed[] feeds = Feed.values();
    for (int split = 0; split <= input.length; split++) {
      List<byte[]> two =
          List.of(
              Arrays.copyOfRange(input, 0, split), Arrays.copyOfRange(input, split, input.length));
      // Every split through the plain array path, and through one other path in rotation.
      check(name, "split at " + split, Feed.ARRAY_SLICE, two, initialLastEventId, want);
      Feed other = feeds[1 + split % (feeds.length - 1)];
      check(name, "split at " + split, other, two, initialLastEventId, want);
    }
    Random random = new Random(SEED ^ name.hashCode() ^ Arrays.hashCode(input));
    for (int cut = 0; cut < RANDOM_CUTS; cut++) {
      List<byte[]> chunks = new ArrayList<>();
      StringBuilder description = new StringBuilder("random cuts at");
      int at = 0;
      while (at < input.length) {
        int size = random.nextInt(random.nextBoolean() ? 4 : 64);
        int end = Math.min(input.length, at + size);
        chunks.add(Arrays.copyOfRange(input, at, end));
        description.append(' ').append(end);
        at = end;
      }
      check(
          name,
          description.toString(),
          feeds[random.nextInt(feeds.length)],
          chunks,
          initialLastEventId,
          want);
    }
  }

  private static void check(
      String name,
      String how,
      Feed feed,
      List<byte[]> chunks,
      String initialLastEventId,
      Outcome want) {
    Outcome got = parse(chunks, feed, initialLastEventId);
    assertThat(got).as("%s, fed %s via %s (seed %d)", name, how, feed, SEED).isEqualTo(want);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Bytes given as numbers, for input that is not valid UTF-8. */
  static byte[] raw(int... values) {
    byte[] bytes = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      bytes[i] = (byte) values[i];
    }
    return bytes;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }
}
