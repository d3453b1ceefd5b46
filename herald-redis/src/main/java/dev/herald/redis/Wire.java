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

  /** The id at the start of a notification, read without parsing the rest. */
  static long notificationId(String payload) {
    return Long.parseLong(payload, 0, payload.indexOf('\n'), 10);
  }

  /**
   * Reads a notification: {@code id LF ts LF type LF retry LF n LF} n topic lines, then the data
   * (the rest, line breaks included).
   */
  static StoredEvent notification(String payload) {
    int at = 0;
    String[] head = new String[5];
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
    return event(Long.parseLong(head[0]), head[1], topics, head[2], head[3], payload.substring(at));
  }
}
