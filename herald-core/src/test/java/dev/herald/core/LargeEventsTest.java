package dev.herald.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.ParserHarness.Feed;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Streams that alternate large and small events and lines, in network-sized reads: the parser
 * grows, keeps and releases its buffers along the way, and must never lose or mix up a byte.
 */
class LargeEventsTest {
  @ParameterizedTest(name = "{0}")
  @EnumSource(
      value = Feed.class,
      names = {"ARRAY_SLICE", "DIRECT_BUFFER"})
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void parsesAlternatingLargeAndSmallEventsExactly(Feed feed) {
    Random random = new Random(ParserHarness.SEED);
    int[] sizes = {10, 200_000, 5, 70_000, 70_000, 3_000_000, 12, 300_000, 80_000, 1};
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    List<Recorder.Ev> expected = new ArrayList<>();
    for (int n = 0; n < sizes.length; n++) {
      // Some events are one long line, some are many lines of random length.
      StringBuilder data = new StringBuilder();
      boolean oneLine = n % 2 == 0;
      while (data.length() < sizes[n]) {
        if (!oneLine && random.nextInt(200) == 0) {
          data.append('\n');
        } else {
          data.append(random.nextInt(50) == 0 ? 'é' : (char) ('a' + random.nextInt(26)));
        }
      }
      Event event = Event.builder().id("id" + n).type("t" + n % 3).data(data.toString()).build();
      wire.writeBytes(SseEncoder.encode(event));
      wire.writeBytes(SseEncoder.encode(new Comment("between")));
      expected.add(Recorder.ev("t" + n % 3, data.toString(), "id" + n));
    }
    byte[] bytes = wire.toByteArray();
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    int at = 0;
    while (at < bytes.length) {
      int end = Math.min(bytes.length, at + 1 + random.nextInt(16 * 1024));
      feed.feed(parser, Arrays.copyOfRange(bytes, at, end));
      at = end;
    }
    assertThat(recorder.events())
        .as("seed %d", ParserHarness.SEED)
        .hasSize(sizes.length)
        .isEqualTo(expected);
  }
}
