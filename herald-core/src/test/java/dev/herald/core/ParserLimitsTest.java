package dev.herald.core;

import static dev.herald.core.ParserHarness.utf8;
import static dev.herald.core.Recorder.ev;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.herald.core.ParserHarness.Feed;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Every input from the network is bounded: lines and events, with limits that say their name. */
class ParserLimitsTest {
  private static final int MIB = 1024 * 1024;

  private static SseParser parser(int maxLineBytes, int maxEventBytes, Recorder recorder) {
    return SseParser.builder()
        .maxLineBytes(maxLineBytes)
        .maxEventBytes(maxEventBytes)
        .build(recorder);
  }

  /** Line prefixes that make a 16-byte line: every kind of line is bounded. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"data:", ":", "event:", "id:", "retry:", "unknown:", "nocolon"})
  void acceptsALineOfExactlyMaxLineBytesAndRefusesOneMore(String prefix) {
    String fits = prefix + "1".repeat(16 - prefix.length());
    for (String ending : new String[] {"\n", "\r", "\r\n"}) {
      for (Feed feed : Feed.values()) {
        Recorder recorder = new Recorder();
        SseParser parser = parser(16, 1000, recorder);
        feed.feed(parser, utf8(fits + ending));
        SseParser tooLong = parser(16, 1000, new Recorder());
        SseLimitExceededException e =
            catchThrowableOfType(
                () -> feed.feed(tooLong, utf8(fits + "1" + ending)),
                SseLimitExceededException.class);
        assertThat(e).as("%s line of 17 bytes via %s", prefix, feed).isNotNull();
        assertThat(e.limit()).isEqualTo("maxLineBytes");
        assertThat(e.max()).isEqualTo(16);
        assertThat(e).hasMessageContaining("maxLineBytes").hasMessageContaining("16");
      }
    }
  }

  @Test
  void refusesALongLineDeliveredByteByByteAtTheFirstByteTooMany() {
    SseParser parser = parser(16, 1000, new Recorder());
    byte[] line = utf8("data:" + "x".repeat(100));
    int fed = 0;
    try {
      for (byte b : line) {
        parser.feed(new byte[] {b});
        fed++;
      }
    } catch (SseLimitExceededException e) {
      assertThat(e.limit()).isEqualTo("maxLineBytes");
    }
    assertThat(fed).as("bytes accepted before the limit").isEqualTo(16);
  }

  @Test
  void acceptsEventDataOfExactlyMaxEventBytesCountingOneLfPerLine() {
    Recorder recorder = new Recorder();
    SseParser parser = parser(100, 10, recorder);
    parser.feed(utf8("data:abcd\ndata:efgh\n\n"));
    assertThat(recorder.seen).containsExactly(ev("abcd\nefgh"));
  }

  @Test
  void refusesEventDataPastMaxEventBytesBeforeTheEventEnds() {
    Recorder recorder = new Recorder();
    SseParser parser = parser(100, 10, recorder);
    parser.feed(utf8("data:abcd\ndata:efgh\n"));
    assertThatThrownBy(() -> parser.feed(utf8("data:i\n")))
        .isInstanceOfSatisfying(
            SseLimitExceededException.class,
            e -> {
              assertThat(e.limit()).isEqualTo("maxEventBytes");
              assertThat(e.max()).isEqualTo(10);
            })
        .hasMessageContaining("maxEventBytes");
    assertThat(recorder.seen).isEmpty();
  }

  @Test
  void eventLimitIsPerEvent() {
    Recorder recorder = new Recorder();
    SseParser parser = parser(100, 10, recorder);
    for (int i = 0; i < 100; i++) {
      parser.feed(utf8("data:123456789\n\n"));
    }
    assertThat(recorder.events()).hasSize(100);
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void refusesAnEndlessLineWithoutBufferingIt() {
    // 10 MiB without a line end against a 1 MiB limit, in 64 KiB network reads.
    SseParser parser = parser(MIB, 32 * MIB, new Recorder());
    byte[] read = new byte[64 * 1024];
    Arrays.fill(read, (byte) 'x');
    long fed = 0;
    SseLimitExceededException thrown = null;
    while (fed < 10L * MIB && thrown == null) {
      try {
        parser.feed(read);
        fed += read.length;
      } catch (SseLimitExceededException e) {
        thrown = e;
      }
    }
    assertThat(thrown).isNotNull();
    assertThat(thrown.limit()).isEqualTo("maxLineBytes");
    assertThat(fed).as("bytes accepted before the limit").isLessThanOrEqualTo(MIB);
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void refusesAnEndlessLineInOneDirectBufferAfterReadingOnlyPastTheLimit() {
    ByteBuffer tenMib = ByteBuffer.allocateDirect(10 * MIB);
    while (tenMib.hasRemaining()) {
      tenMib.put((byte) 'x');
    }
    tenMib.flip();
    SseParser parser = parser(MIB, 32 * MIB, new Recorder());
    assertThatThrownBy(() -> parser.feed(tenMib))
        .isInstanceOfSatisfying(
            SseLimitExceededException.class, e -> assertThat(e.limit()).isEqualTo("maxLineBytes"));
    // The parser copies a direct buffer through a small scratch array: it stopped reading
    // within one scratch array of the limit instead of taking in all 10 MiB.
    assertThat(tenMib.position()).isLessThanOrEqualTo(MIB + 64 * 1024);
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void refusesAnEndlessLineInOneHugeArray() {
    byte[] tenMib = new byte[10 * MIB];
    Arrays.fill(tenMib, (byte) 'x');
    SseParser parser = parser(MIB, 32 * MIB, new Recorder());
    assertThatThrownBy(() -> parser.feed(tenMib))
        .isInstanceOfSatisfying(
            SseLimitExceededException.class, e -> assertThat(e.limit()).isEqualTo("maxLineBytes"));
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void refusesAnEndlessEventOfShortLinesWithoutBufferingIt() {
    SseParser parser = parser(MIB, MIB, new Recorder());
    byte[] lines = utf8(("data:" + "y".repeat(1019) + "\n").repeat(64)); // 64 KiB
    long fed = 0;
    SseLimitExceededException thrown = null;
    while (fed < 10L * MIB && thrown == null) {
      try {
        parser.feed(lines);
        fed += lines.length;
      } catch (SseLimitExceededException e) {
        thrown = e;
      }
    }
    assertThat(thrown).isNotNull();
    assertThat(thrown.limit()).isEqualTo("maxEventBytes");
    assertThat(fed).isLessThanOrEqualTo(2L * MIB);
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(
      value = Feed.class,
      names = {"ARRAY_SLICE", "DIRECT_BUFFER"})
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void defaultsAcceptA16MibEventOnOneLine(Feed feed) {
    assertThat(SseParser.DEFAULT_MAX_EVENT_BYTES).isGreaterThan(16 * MIB);
    assertThat(SseParser.DEFAULT_MAX_LINE_BYTES).isGreaterThan(16 * MIB);
    char[] chars = new char[16 * MIB];
    for (int i = 0; i < chars.length; i++) {
      chars[i] = (char) ('a' + i % 26);
    }
    String data = new String(chars);
    byte[] stream = SseEncoder.encode(Event.builder().id("big").data(data).build());
    Recorder recorder = new Recorder();
    SseParser parser = SseParser.create(recorder);
    for (int at = 0; at < stream.length; at += 64 * 1024) {
      feed.feed(parser, Arrays.copyOfRange(stream, at, Math.min(stream.length, at + 64 * 1024)));
    }
    List<Recorder.Ev> events = recorder.events();
    assertThat(events).hasSize(1);
    assertThat(events.get(0).id()).isEqualTo("big");
    assertThat(events.get(0).data().length()).isEqualTo(16 * MIB);
    assertThat(events.get(0).data().equals(data)).as("16 MiB of data intact").isTrue();
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void defaultsAcceptA16MibEventOfManyLinesInOneFeed() {
    String line = "z".repeat(MIB - 1);
    String data = (line + "\n").repeat(15) + line + "!";
    byte[] stream = SseEncoder.encode(Event.of(data));
    Recorder recorder = new Recorder();
    SseParser.create(recorder).feed(stream);
    assertThat(recorder.events()).hasSize(1);
    assertThat(recorder.events().get(0).data().length()).isEqualTo(16 * MIB);
    assertThat(recorder.events().get(0).data().equals(data)).isTrue();
  }

  @Test
  void refusesLimitsThatAreNotPositive() {
    assertThatThrownBy(() -> SseParser.builder().maxLineBytes(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxLineBytes");
    assertThatThrownBy(() -> SseParser.builder().maxEventBytes(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxEventBytes");
  }
}
