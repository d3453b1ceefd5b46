package dev.herald.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.ParserHarness.Feed;
import dev.herald.core.Recorder.Seen;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Random events and comments, encoded, concatenated, cut into random chunks and parsed, come back
 * exactly: data with its line breaks normalised to LF, ids carried over as the standard says.
 * Seeded from {@link ParserHarness#SEED}, printed at start and in every failure message.
 */
class RoundTripPropertyTest {
  private static final int ITERATIONS = 3000;

  /** Code points that stress the encoder and parser: separators, controls, every UTF-8 length. */
  private static final int[] INTERESTING = {
    ' ', ' ', ' ', ':', '\t', '\0', 0x7F, 0x85, 0xA0, 0xE9, 0xDF, 0x7FF, 0x800, 0x4E2D, 0x2028,
    0xFEFF, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x1D11E, 0x10FFFF
  };

  private static final String[] LINE_BREAKS = {"\n", "\r", "\r\n"};

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void encodedEventsParseBackToThemselvesHoweverTheBytesAreCut() {
    Random random = new Random(ParserHarness.SEED);
    for (int iteration = 0; iteration < ITERATIONS; iteration++) {
      ByteArrayOutputStream wire = new ByteArrayOutputStream();
      List<Seen> expected = new ArrayList<>();
      List<Object> written = new ArrayList<>();
      String lastEventId = random.nextInt(4) == 0 ? text(random, false, 8) : "";
      String startingFrom = lastEventId;
      int frames = 1 + random.nextInt(6);
      for (int f = 0; f < frames; f++) {
        if (random.nextInt(5) == 0) {
          Comment comment = new Comment(text(random, true, 20));
          written.add(comment);
          wire.writeBytes(SseEncoder.encode(comment));
          for (String line : comment.text().split("\r\n|\r|\n", -1)) {
            expected.add(Recorder.cm(line));
          }
          continue;
        }
        Event event = randomEvent(random);
        written.add(event);
        wire.writeBytes(SseEncoder.encode(event));
        if (event.retry().isPresent()) {
          expected.add(Recorder.rt(event.retry().get().toMillis()));
        }
        if (event.id().isPresent()) {
          lastEventId = event.id().get();
        }
        String data = event.data().replace("\r\n", "\n").replace('\r', '\n');
        expected.add(Recorder.ev(event.type(), data, lastEventId));
      }
      byte[] bytes = wire.toByteArray();
      List<byte[]> chunks = cut(random, bytes);
      Feed feed = Feed.values()[random.nextInt(Feed.values().length)];
      ParserHarness.Outcome outcome = ParserHarness.parse(chunks, feed, startingFrom);
      assertThat(outcome)
          .as(
              "iteration %d (seed %d), %d chunks via %s, written %s",
              iteration, ParserHarness.SEED, chunks.size(), feed, written)
          .isEqualTo(new ParserHarness.Outcome(expected, lastEventId));
    }
  }

  private static Event randomEvent(Random random) {
    Event.Builder builder = Event.builder().data(text(random, true, 40));
    switch (random.nextInt(6)) {
      case 0, 1 -> {} // no id: the previous one carries over
      case 2 -> builder.id("");
      default -> builder.id(text(random, false, 12).replace("\0", ""));
    }
    if (random.nextInt(3) == 0) {
      String type = text(random, false, 10);
      builder.type(type.isEmpty() ? "t" : type);
    }
    if (random.nextInt(6) == 0) {
      builder.retry(
          random.nextBoolean()
              ? Duration.ofMillis(random.nextInt(100_000))
              : Duration.ofNanos(Math.abs(random.nextLong())));
    }
    return builder.build();
  }

  /** Random text; with line breaks of every kind if asked, sometimes empty, sometimes long. */
  private static String text(Random random, boolean lineBreaks, int typicalLength) {
    int length =
        switch (random.nextInt(20)) {
          case 0 -> 0;
          case 1 -> 2000 + random.nextInt(20_000);
          default -> random.nextInt(typicalLength + 1);
        };
    StringBuilder s = new StringBuilder();
    while (s.length() < length) {
      int kind = random.nextInt(10);
      if (lineBreaks && kind == 0) {
        s.append(LINE_BREAKS[random.nextInt(LINE_BREAKS.length)]);
      } else if (kind <= 2) {
        s.appendCodePoint(INTERESTING[random.nextInt(INTERESTING.length)]);
      } else if (kind == 3) {
        // Anywhere in Unicode, surrogates excepted: they are not characters.
        int cp;
        do {
          cp = random.nextInt(Character.MAX_CODE_POINT + 1);
        } while (Character.getType(cp) == Character.SURROGATE || (!lineBreaks && isBreak(cp)));
        s.appendCodePoint(cp);
      } else {
        s.append((char) ('a' + random.nextInt(26)));
      }
    }
    return s.toString();
  }

  private static boolean isBreak(int cp) {
    return cp == '\r' || cp == '\n';
  }

  private static List<byte[]> cut(Random random, byte[] bytes) {
    List<byte[]> chunks = new ArrayList<>();
    int mode = random.nextInt(4);
    int at = 0;
    while (at < bytes.length) {
      int size =
          switch (mode) {
            case 0 -> bytes.length; // whole
            case 1 -> 1; // byte by byte
            case 2 -> random.nextInt(8); // tiny, empty chunks included
            default -> 1 + random.nextInt(8192);
          };
      int end = Math.min(bytes.length, at + size);
      chunks.add(Arrays.copyOfRange(bytes, at, end));
      at = end;
    }
    return chunks;
  }
}
