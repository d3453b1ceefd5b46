package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.MutableClock;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Retention against a model, step by random step: bursts of appends (grouped as the writer pleases,
 * some failing alone for a value over the length limit), a clock that jumps forward and back, the
 * age job, and restarts under a raised or lowered count limit. After every step each topic reads
 * exactly the events the model retains, and {@code droppedThrough} is exactly the model's — which
 * holds only if the in-memory counts ({@link RetainedCounts}) and the search for the aged prefix
 * ({@link AgedPrefix}) are right through rollbacks, age deletions and restarts.
 */
@Timeout(120)
class RetentionModelTest {
  private static final List<String> TOPICS = List.of("t0", "t1", "t2", "t3", "t4");
  private static final Duration MAX_AGE = Duration.ofSeconds(10);
  private static final int MAX_VALUE_BYTES = 1_000;

  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T08:00:00Z"));

  // The model: per topic the retained ids, and the highest id retention deleted from it.
  private final Map<String, TreeSet<Long>> retained = new HashMap<>();
  private final Map<String, Long> deletedThrough = new HashMap<>();
  private final Map<Long, Long> createdMs = new TreeMap<>();
  private long floor;

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
  void everyTopicReadsWhatTheModelRetainsAfterEveryStep(long seed) throws Exception {
    Random random = new Random(seed);
    int maxCount = 1 + random.nextInt(6);
    SqliteEventLog log = open(maxCount);
    floor = log.droppedThrough(Set.of("never written"));
    TOPICS.forEach(t -> retained.put(t, new TreeSet<>()));
    try {
      for (int step = 0; step < 200; step++) {
        int action = random.nextInt(20);
        if (action < 13) {
          appendBurst(log, random, maxCount);
        } else if (action < 16) {
          // Mostly forward; sometimes back, which makes ids run ahead of the clock.
          clock.advance(Duration.ofMillis(random.nextInt(6_000) - 1_000));
        } else if (action < 18) {
          assertThat(log.runRetention().get(10, SECONDS)).isEqualTo(deleteAged());
        } else {
          log.close();
          maxCount = 1 + random.nextInt(6);
          log = open(maxCount);
          trimAll(maxCount);
          // The start-up run of the age job deletes what aged while the file was closed.
          log.runRetention().get(10, SECONDS);
          deleteAged();
        }
        check(log, "step " + step);
      }
    } finally {
      log.close();
    }
  }

  private SqliteEventLog open(int maxCount) {
    SqliteEventLog log =
        SqliteEventLog.builder()
            .path(dir.resolve("events.db"))
            .retention(new Retention(maxCount, MAX_AGE))
            .clock(clock)
            .maxValueBytes(MAX_VALUE_BYTES)
            .build();
    log.listener(events -> {});
    return log;
  }

  /** Several appends in flight at once, so the writer groups them; about one in eight fails. */
  private void appendBurst(SqliteEventLog log, Random random, int maxCount) throws Exception {
    List<List<Publication>> batches = new ArrayList<>();
    List<CompletableFuture<List<StoredEvent>>> appended = new ArrayList<>();
    int appends = 1 + random.nextInt(5);
    for (int i = 0; i < appends; i++) {
      List<Publication> batch = new ArrayList<>();
      int events = 1 + random.nextInt(3);
      boolean tooLong = random.nextInt(8) == 0;
      for (int e = 0; e < events; e++) {
        Set<String> topics = new LinkedHashSet<>();
        int count = random.nextInt(4) == 0 ? 2 : 1;
        while (topics.size() < count) {
          topics.add(TOPICS.get(random.nextInt(TOPICS.size())));
        }
        String data = tooLong && e == events - 1 ? "x".repeat(MAX_VALUE_BYTES + 1) : "e";
        batch.add(publication(data, topics.toArray(String[]::new)));
      }
      batches.add(batch);
      appended.add(log.append(batch));
    }
    for (int i = 0; i < appends; i++) {
      List<StoredEvent> events;
      try {
        events = appended.get(i).get(10, SECONDS);
      } catch (ExecutionException e) {
        assertThat(batches.get(i).get(batches.get(i).size() - 1).event().data())
            .as("only an append with a value over the limit fails")
            .hasSizeGreaterThan(MAX_VALUE_BYTES);
        continue;
      }
      for (StoredEvent event : events) {
        createdMs.put(event.id(), event.timestamp().toEpochMilli());
        for (String topic : event.topics()) {
          retained.get(topic).add(event.id());
        }
      }
    }
    trimAll(maxCount);
  }

  private void trimAll(int maxCount) {
    retained.forEach(
        (topic, ids) -> {
          while (ids.size() > maxCount) {
            deletedThrough.merge(topic, ids.pollFirst(), Math::max);
          }
        });
    forgetUnreferenced();
  }

  /** Deletes what is past its age, as the job does; returns how many events went. */
  private int deleteAged() {
    long cutoff = clock.millis() - MAX_AGE.toMillis();
    List<Long> aged =
        createdMs.entrySet().stream()
            .filter(e -> e.getValue() <= cutoff)
            .map(Map.Entry::getKey)
            .toList();
    for (long id : aged) {
      retained.forEach(
          (topic, ids) -> {
            if (ids.remove(id)) {
              deletedThrough.merge(topic, id, Math::max);
            }
          });
      createdMs.remove(id);
    }
    return aged.size();
  }

  private void forgetUnreferenced() {
    createdMs
        .keySet()
        .removeIf(id -> retained.values().stream().noneMatch(ids -> ids.contains(id)));
  }

  private void check(SqliteEventLog log, String when) {
    long cutoff = clock.millis() - MAX_AGE.toMillis();
    for (String topic : TOPICS) {
      List<Long> young = new ArrayList<>();
      long dropped = Math.max(floor, deletedThrough.getOrDefault(topic, 0L));
      for (long id : retained.get(topic)) {
        if (createdMs.get(id) <= cutoff) {
          dropped = Math.max(dropped, id);
        } else {
          young.add(id);
        }
      }
      assertThat(readAll(log, Set.of(topic), 2).stream().map(StoredEvent::id).toList())
          .as("%s: %s reads", when, topic)
          .isEqualTo(young);
      assertThat(log.droppedThrough(Set.of(topic)))
          .as("%s: %s dropped through", when, topic)
          .isEqualTo(dropped);
    }
  }
}
