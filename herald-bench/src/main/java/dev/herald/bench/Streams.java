package dev.herald.bench;

import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The two event streams every benchmark runs on, built the same way on every run (fixed seed), so
 * Herald and okhttp-eventsource parse exactly the same bytes.
 */
public enum Streams {
  /**
   * Small JSON events as a market-data or notification feed sends them: id, type and one data line
   * of JSON, about 140 bytes each; 2,000 of them (282 KB).
   */
  SMALL_JSON {
    @Override
    List<Event> events(Random random) {
      List<Event> events = new ArrayList<>();
      long id = 48_151_623;
      for (int i = 0; i < 2000; i++) {
        String json =
            String.format(
                Locale.ROOT,
                "{\"symbol\":\"%s\",\"bid\":%.5f,\"ask\":%.5f,\"size\":%d,"
                    + "\"ts\":\"2026-11-21T10:15:%02d.%03dZ\",\"venue\":\"%s\"}",
                SYMBOLS[random.nextInt(SYMBOLS.length)],
                1.08 + random.nextDouble() / 100,
                1.08 + random.nextDouble() / 100,
                random.nextInt(1_000_000),
                random.nextInt(60),
                random.nextInt(1000),
                VENUES[random.nextInt(VENUES.length)]);
        events.add(Event.builder().id(Long.toString(id++)).type("quote").data(json).build());
      }
      return events;
    }
  },

  /**
   * Large events: pretty-printed JSON documents of about 64 KiB, one {@code data:} line per JSON
   * line (about 3,000 lines, 84 KB on the wire, a few names with non-ASCII letters); 16 of them
   * (1.3 MB).
   */
  LARGE_MULTILINE {
    @Override
    List<Event> events(Random random) {
      List<Event> events = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        String json = prettyJson(random, 64 * 1024);
        events.add(Event.builder().id(Integer.toString(i)).type("snapshot").data(json).build());
      }
      return events;
    }
  };

  private static final String[] SYMBOLS = {"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD"};
  private static final String[] VENUES = {"LDN", "NYC", "TYO", "ZRH", "SGP"};
  private static final String[] NAMES = {
    "widget", "gadget", "sprocket", "gizmo", "doohickey", "thingamajig", "Crème brûlée", "Straße"
  };

  abstract List<Event> events(Random random);

  /**
   * A pretty-printed JSON document of a little under {@code size} characters (one item per few
   * lines, some with non-ASCII names), as multi-line event data; the same for the same random.
   */
  public static String prettyJson(Random random, int size) {
    StringBuilder json = new StringBuilder("{\n  \"items\": [\n");
    int item = 0;
    while (json.length() < size - 200) {
      json.append("    {\n")
          .append("      \"id\": ")
          .append(random.nextInt(1 << 30))
          .append(",\n")
          .append("      \"name\": \"")
          .append(NAMES[random.nextInt(NAMES.length)])
          .append(' ')
          .append(item++)
          .append("\",\n")
          .append("      \"price\": ")
          .append(String.format(Locale.ROOT, "%.2f", random.nextDouble() * 1000))
          .append(",\n")
          .append("      \"tags\": [\"alpha\", \"beta\", \"gamma\"]\n")
          .append("    },\n");
    }
    return json.append("    {}\n  ]\n}").toString();
  }

  /** The events, the same on every call. */
  public List<Event> events() {
    return events(new Random(20261121));
  }

  /** The stream's bytes: every event encoded and concatenated. */
  public byte[] bytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Event event : events()) {
      out.writeBytes(SseEncoder.encode(event));
    }
    return out.toByteArray();
  }
}
