package dev.herald.redis;

import dev.herald.core.Event;
import dev.herald.server.StoredEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** How events are laid out in stream entries, script replies and notifications. */
final class Wire {
  private Wire() {}

  /** The retry field: empty for none, else the ISO-8601 duration (exact, any precision). */
  static String retry(Event event) {
    return event.retry().map(Duration::toString).orElse("");
  }

  /** Rebuilds a stored event from its fields. */
  static StoredEvent event(
      long id, String timestamp, String topics, String type, String retry, String data) {
    Event.Builder builder = Event.builder().type(type).data(data);
    if (!retry.isEmpty()) {
      builder.retry(Duration.parse(retry));
    }
    return StoredEvent.of(
        id, topics(topics), builder.build(), Instant.ofEpochMilli(Long.parseLong(timestamp)));
  }

  /** The topics of an entry: topic names never hold control characters, so LF separates them. */
  static Set<String> topics(String joined) {
    return new LinkedHashSet<>(Arrays.asList(joined.split("\n", -1)));
  }

  /** Reads the read script's reply: six strings per event, id order. */
  static List<StoredEvent> events(List<Object> reply) {
    List<StoredEvent> events = new ArrayList<>(reply.size() / 6);
    for (int i = 0; i + 5 < reply.size(); i += 6) {
      events.add(
          event(
              Long.parseLong((String) reply.get(i)),
              (String) reply.get(i + 1),
              (String) reply.get(i + 2),
              (String) reply.get(i + 3),
              (String) reply.get(i + 4),
              (String) reply.get(i + 5)));
    }
    return events;
  }

  /**
   * Reads a notification: one or more events, each {@code id LF ts LF type LF retry LF n LF}, n
   * topic lines, the data's length in UTF-8 bytes LF, then the data (line breaks included).
   *
   * @throws RuntimeException if the payload is not laid out so
   */
  static List<StoredEvent> notifications(String payload) {
    List<StoredEvent> events = new ArrayList<>(1);
    int at = 0;
    String[] head = new String[5];
    while (at < payload.length()) {
      for (int i = 0; i < 5; i++) {
        int end = payload.indexOf('\n', at);
        head[i] = payload.substring(at, end);
        at = end + 1;
      }
      int n = Integer.parseInt(head[4]);
      int topicsStart = at;
      for (int i = 0; i < n; i++) {
        at = payload.indexOf('\n', at) + 1;
      }
      String topics = payload.substring(topicsStart, at - 1);
      int lengthEnd = payload.indexOf('\n', at);
      int bytes = Integer.parseInt(payload, at, lengthEnd, 10);
      int dataStart = lengthEnd + 1;
      at = afterUtf8Bytes(payload, dataStart, bytes);
      events.add(
          event(
              Long.parseLong(head[0]),
              head[1],
              topics,
              head[2],
              head[3],
              payload.substring(dataStart, at)));
    }
    return events;
  }

  /**
   * The index in {@code text} after {@code bytes} bytes of its UTF-8 form from {@code start}: the
   * script measures data in bytes, Lettuce hands it over decoded (from valid UTF-8, as the hub
   * encoded it).
   *
   * @throws IllegalArgumentException if that ends past the text or inside a character
   */
  static int afterUtf8Bytes(String text, int start, int bytes) {
    int at = start;
    int left = bytes;
    while (left > 0) {
      if (at >= text.length()) {
        throw new IllegalArgumentException("a notification's data is shorter than its length");
      }
      char c = text.charAt(at);
      if (c < 0x80) {
        left -= 1;
        at += 1;
      } else if (c < 0x800) {
        left -= 2;
        at += 1;
      } else if (Character.isHighSurrogate(c)
          && at + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(at + 1))) {
        left -= 4;
        at += 2;
      } else {
        left -= 3;
        at += 1;
      }
    }
    if (left < 0) {
      throw new IllegalArgumentException("a notification's data length ends inside a character");
    }
    return at;
  }
}
