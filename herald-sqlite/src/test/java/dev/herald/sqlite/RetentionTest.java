package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.append;
import static dev.herald.sqlite.Logs.countRows;
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
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Retention by count and by age: what is read, what droppedThrough says, what the file holds. */
@Timeout(60)
class RetentionTest {
  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-15T10:00:00Z"));

  private Path file() {
    return dir.resolve("events.db");
  }

  private SqliteEventLog open(Retention retention) {
    return open(retention, Duration.ofSeconds(30));
  }

  private SqliteEventLog open(Retention retention, Duration interval) {
    SqliteEventLog log =
        SqliteEventLog.builder()
            .path(file())
            .retention(retention)
            .clock(clock)
            .retentionInterval(interval)
            .build();
    log.listener(events -> {});
    return log;
  }

  @Test
  void countLimitDeletesTheOldestRowsInTheAppendThatOverflowsAndDroppedThroughIsExact()
      throws Exception {
    try (SqliteEventLog log = open(new Retention(5, Duration.ofHours(1)))) {
      long floor = log.droppedThrough(Set.of("a"));
      List<StoredEvent> a = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        a.add(append(log, publication("a" + i, "a")));
        long expected = i < 5 ? floor : a.get(i - 5).id();
        assertThat(log.droppedThrough(Set.of("a")))
            .as("after %d appends", i + 1)
            .isEqualTo(expected);
        assertThat(countRows(file(), "SELECT count(*) FROM events")).isEqualTo(Math.min(i + 1, 5));
      }
      assertThat(readAll(log, Set.of("a"), 2)).containsExactlyElementsOf(a.subList(7, 12));

      // A batch larger than the limit keeps only its own newest five.
      List<Publication> batch = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        batch.add(publication("burst" + i, "a"));
      }
      List<StoredEvent> burst = log.append(batch).get(10, SECONDS);
      assertThat(readAll(log, Set.of("a"), 100)).containsExactlyElementsOf(burst.subList(3, 8));
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(burst.get(2).id());
      assertThat(countRows(file(), "SELECT count(*) FROM event_topics")).isEqualTo(5);
    }
  }

  @Test
  void eventDroppedFromOneTopicStaysForTheOtherUntilItIsDroppedThereToo() throws Exception {
    try (SqliteEventLog log = open(new Retention(2, Duration.ofHours(1)))) {
      StoredEvent both = append(log, publication("both", "a", "b"));
      append(log, publication("a1", "a"));
      append(log, publication("a2", "a"));
      assertThat(countRows(file(), "SELECT count(*) FROM events WHERE id = " + both.id()))
          .as("still retained by b")
          .isOne();
      assertThat(readAll(log, Set.of("b"), 10)).containsExactly(both);
      assertThat(readAll(log, Set.of("b"), 10).get(0).topics()).containsExactlyInAnyOrder("a", "b");

      append(log, publication("b1", "b"));
      append(log, publication("b2", "b"));
      assertThat(countRows(file(), "SELECT count(*) FROM events WHERE id = " + both.id()))
          .as("deleted once no topic retains it")
          .isZero();
      assertThat(log.droppedThrough(Set.of("b"))).isEqualTo(both.id());
    }
  }

  @Test
  void agedEventsCountAsDroppedAtOnceAndTheJobDeletesThem() throws Exception {
    try (SqliteEventLog log = open(new Retention(1000, Duration.ofSeconds(10)))) {
      List<StoredEvent> early = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        early.add(append(log, publication("early" + i, "a", i % 2 == 0 ? "even" : "odd")));
      }
      clock.advance(Duration.ofSeconds(4));
      List<StoredEvent> late = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        late.add(append(log, publication("late" + i, "a")));
      }

      clock.advance(Duration.ofSeconds(6)); // the early ones are exactly 10 s old: dropped
      assertThat(countRows(file(), "SELECT count(*) FROM events"))
          .as("not deleted yet")
          .isEqualTo(10);
      assertThat(readAll(log, Set.of("a"), 3)).containsExactlyElementsOf(late);
      assertThat(readAll(log, Set.of("even", "odd"), 3)).isEmpty();
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(early.get(4).id());
      assertThat(log.droppedThrough(Set.of("even"))).isEqualTo(early.get(4).id());
      assertThat(log.droppedThrough(Set.of("odd"))).isEqualTo(early.get(3).id());

      assertThat(log.runRetention().get(10, SECONDS)).isEqualTo(5);
      assertThat(countRows(file(), "SELECT count(*) FROM events")).isEqualTo(5);
      assertThat(countRows(file(), "SELECT count(*) FROM event_topics")).isEqualTo(5);
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(early.get(4).id());
      assertThat(log.droppedThrough(Set.of("even"))).isEqualTo(early.get(4).id());
      assertThat(log.droppedThrough(Set.of("odd"))).isEqualTo(early.get(3).id());
      assertThat(readAll(log, Set.of("a"), 3)).containsExactlyElementsOf(late);

      clock.advance(Duration.ofSeconds(4)); // now the late ones too
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(late.get(4).id());
      assertThat(log.runRetention().get(10, SECONDS)).isEqualTo(5);
      assertThat(countRows(file(), "SELECT count(*) FROM events")).isZero();
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(late.get(4).id());
      assertThat(log.droppedThrough(Set.of("odd"))).isEqualTo(early.get(3).id());
      assertThat(log.lastId()).isEqualTo(late.get(4).id());
    }
  }

  @Test
  void clockGoingBackDoesNotLetAnEventOutliveOlderOnes() throws Exception {
    try (SqliteEventLog log = open(new Retention(1000, Duration.ofSeconds(10)))) {
      StoredEvent first = append(log, publication("first", "a"));
      clock.advance(Duration.ofSeconds(-5));
      StoredEvent second = append(log, publication("second", "b"));
      assertThat(second.timestamp()).as("timestamps never go back").isEqualTo(first.timestamp());

      clock.advance(Duration.ofSeconds(15));
      assertThat(readAll(log, Set.of("a", "b"), 10)).isEmpty();
      assertThat(log.droppedThrough(Set.of("b"))).isEqualTo(second.id());
    }
  }

  @Test
  void largeBacklogIsDeletedInBoundedTransactionsWhileAppendsGoOn() throws Exception {
    try (SqliteEventLog log = open(new Retention(100_000, Duration.ofSeconds(10)))) {
      int backlog = RetentionJob.BATCH * 3 + 17;
      List<Publication> batch = new ArrayList<>();
      for (int i = 0; i < backlog; i++) {
        batch.add(publication("old" + i, "t" + (i % 7)));
      }
      List<StoredEvent> old = log.append(batch).get(10, SECONDS);
      clock.advance(Duration.ofSeconds(11));

      var deleting = log.runRetention();
      StoredEvent fresh = append(log, publication("fresh", "t0"));
      assertThat(deleting.get(10, SECONDS)).isEqualTo(backlog);

      assertThat(countRows(file(), "SELECT count(*) FROM events")).isOne();
      assertThat(readAll(log, Set.of("t0", "t1", "t2", "t3", "t4", "t5", "t6"), 100))
          .containsExactly(fresh);
      assertThat(log.droppedThrough(Set.of("t0", "t6")))
          .isEqualTo(
              old.stream()
                  .filter(e -> e.topics().contains("t0") || e.topics().contains("t6"))
                  .mapToLong(StoredEvent::id)
                  .max()
                  .orElseThrow());
    }
  }

  @Test
  void scheduledJobDeletesExpiredEventsWithoutBeingAsked() throws Exception {
    try (SqliteEventLog log =
        open(new Retention(1000, Duration.ofSeconds(10)), Duration.ofMillis(50))) {
      for (int i = 0; i < 20; i++) {
        append(log, publication("e" + i, "a"));
      }
      clock.advance(Duration.ofSeconds(11));

      long remaining = -1;
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (System.nanoTime() < deadline) {
        remaining = countRows(file(), "SELECT count(*) FROM events");
        if (remaining == 0) {
          break;
        }
        Thread.sleep(20);
      }
      assertThat(remaining).as("events left 10 s after they expired").isZero();
    }
  }
}
