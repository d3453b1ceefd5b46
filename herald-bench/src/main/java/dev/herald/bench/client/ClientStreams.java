package dev.herald.bench.client;

import dev.herald.bench.Streams;
import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The streams the client benchmark consumes: a block of distinct events that the local server
 * repeats until one connection has carried {@link #eventsPerConnection()} events. Built the same
 * way on every run (fixed seed), so every client reads exactly the same bytes.
 */
public enum ClientStreams {
  /**
   * {@link Streams#SMALL_JSON}: quotes of about 150 bytes with id, type and one JSON data line;
   * 2,000 distinct events, repeated 250 times: 500,000 events (about 75 MB) per connection.
   */
  SMALL_JSON(250) {
    @Override
    List<Event> block() {
      return Streams.SMALL_JSON.events();
    }
  },

  /**
   * Larger multi-line events: pretty-printed JSON documents of 4 to 16 KiB (uniformly, about 10 KiB
   * on average), one {@code data:} line per JSON line (20-40 bytes each, a few with non-ASCII
   * text), with id and type; 100 distinct events, repeated 200 times: 20,000 events (about 200 MB)
   * per connection.
   */
  LARGE_MULTILINE(200) {
    @Override
    List<Event> block() {
      Random random = new Random(20261121);
      List<Event> events = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        int size = 4 * 1024 + random.nextInt(12 * 1024);
        String json = Streams.prettyJson(random, size);
        events.add(
            Event.builder()
                .id(Integer.toString(1_000_000 + i))
                .type("snapshot")
                .data(json)
                .build());
      }
      return events;
    }
  };

  private final int repeats;

  ClientStreams(int repeats) {
    this.repeats = repeats;
  }

  /** The distinct events the server repeats, the same on every call. */
  abstract List<Event> block();

  /** How many times the server writes the block on one connection. */
  int repeats() {
    return repeats;
  }

  /** Events one connection carries, and one benchmark operation consumes. */
  int eventsPerConnection() {
    return block().size() * repeats;
  }

  /** The block's bytes: every event encoded and concatenated. */
  byte[] blockBytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Event event : block()) {
      out.writeBytes(SseEncoder.encode(event));
    }
    return out.toByteArray();
  }

  /**
   * What a consumer's checksum over one connection must come to: the sum, over every event, of the
   * lengths of its type, data and id (in chars), the same quantity {@link ClientBenchmark}'s
   * consumers add up.
   */
  long expectedChecksum() {
    long sum = 0;
    for (Event event : block()) {
      sum += event.type().length() + event.data().length() + event.id().orElse("").length();
    }
    return sum * repeats;
  }
}
