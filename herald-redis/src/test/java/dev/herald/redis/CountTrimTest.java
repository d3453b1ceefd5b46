package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import io.lettuce.core.Range;
import io.lettuce.core.XAddArgs;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Retention by count on a real Redis: the publish script finds the newest dropped id from the
 * {@code p} field of the entry that becomes a stream's head (common.lua, {@code trim}), without
 * reading the dropped entries; entries written before that field take the slower way, which reads
 * them. Either way the log's dropped id is exactly the newest event each topic lost, checked
 * against a model of every append.
 */
class CountTrimTest {
  private static final int KEEP = 3;

  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final Keys keys = new Keys(prefix);

  /**
   * Opens the log on a sequence that already stood at {@code seq}, as in a deployment that ran
   * before: a new sequence would count every id below its start as dropped.
   */
  private RedisEventLog open(long seq) {
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      raw.sync().hset(keys.meta, "seq", Long.toString(seq));
    }
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(TestRedis.URI)
            .keyPrefix(prefix)
            .retention(new Retention(KEEP, Duration.ofDays(1)))
            .build();
    redis.closeAfter(log);
    return log;
  }

  /** What each topic holds and dropped, by the model: the newest KEEP ids kept. */
  private static final class Model {
    final Map<String, List<Long>> ids = new HashMap<>();
    final Map<String, Long> dropped = new HashMap<>();

    void stored(StoredEvent event) {
      for (String topic : event.topics()) {
        List<Long> kept = ids.computeIfAbsent(topic, t -> new ArrayList<>());
        kept.add(event.id());
        while (kept.size() > KEEP) {
          dropped.put(topic, kept.remove(0));
        }
      }
    }
  }

  @Test
  void theDroppedIdIsExactlyTheNewestEventEachTopicLostAcrossInterleavedMultiTopicGroups()
      throws Exception {
    RedisEventLog log = open(100);
    Model model = new Model();
    List<String> topics = List.of("a", "b", "c");
    Random random = new Random(21);
    for (int round = 0; round < 60; round++) {
      // One append of several events: one script call, runs of different topic sets.
      List<Publication> batch = new ArrayList<>();
      int size = 1 + random.nextInt(6);
      for (int i = 0; i < size; i++) {
        Set<String> on = new LinkedHashSet<>();
        for (String topic : topics) {
          if (random.nextInt(3) == 0) {
            on.add(topic);
          }
        }
        if (on.isEmpty()) {
          on.add(topics.get(random.nextInt(topics.size())));
        }
        batch.add(new Publication(on, Event.of("r" + round + "e" + i)));
      }
      log.append(batch).get(10, SECONDS).forEach(model::stored);
      for (String topic : topics) {
        assertThat(log.droppedThrough(Set.of(topic)))
            .as("round %s, topic %s", round, topic)
            .isEqualTo(model.dropped.getOrDefault(topic, 0L));
        assertThat(log.readAfter(Set.of(topic), 0, 100))
            .extracting(StoredEvent::id)
            .as("round %s, topic %s", round, topic)
            .isEqualTo(model.ids.getOrDefault(topic, List.of()));
      }
    }
    assertThat(model.dropped).as("every topic lost events").containsOnlyKeys(topics);
  }

  /** An entry's fields in the order given (the scripts read them by position). */
  private static Map<String, String> fields(String... pairs) {
    Map<String, String> fields = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      fields.put(pairs[i], pairs[i + 1]);
    }
    return fields;
  }

  @Test
  void entriesWrittenBeforeThePreviousFieldAreTrimmedExactlyToo() throws Exception {
    String stream = keys.stream("t");
    List<Long> legacy = new ArrayList<>();
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      // Five entries laid out as before the 'p' field, ids from an earlier deployment.
      for (long id = 1; id <= 5; id++) {
        raw.sync()
            .xadd(
                stream,
                new XAddArgs().id(id + "-0"),
                fields(
                    "ts", Long.toString(System.currentTimeMillis()),
                    "tp", "t",
                    "t", "message",
                    "r", "",
                    "d", "old" + id));
        legacy.add(id);
      }
    }
    RedisEventLog log = open(5);
    Model model = new Model();
    // The legacy entries exceed the count already: the first trim drops two of them.
    legacy.forEach(
        id -> model.stored(StoredEvent.of(id, Set.of("t"), Event.of("x"), Instant.now())));
    for (int i = 0; i < 6; i++) {
      log.append(List.of(Publication.of("t", Event.of("new" + i))))
          .get(10, SECONDS)
          .forEach(model::stored);
      assertThat(log.droppedThrough(Set.of("t")))
          .as("append %s", i)
          .isEqualTo(model.dropped.get("t"));
      assertThat(log.readAfter(Set.of("t"), 0, 100))
          .extracting(StoredEvent::id)
          .as("append %s", i)
          .isEqualTo(model.ids.get("t"));
    }
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      assertThat(raw.sync().hget(keys.dropped, "t\nlegacy"))
          .as("the newest entry without the field, noted when it was the stream's top")
          .isEqualTo("5");
      // Every entry kept now names its previous one.
      assertThat(raw.sync().xrange(stream, Range.create("-", "+")))
          .allSatisfy(entry -> assertThat(entry.getBody()).containsKey("p"));
    }
  }
}
