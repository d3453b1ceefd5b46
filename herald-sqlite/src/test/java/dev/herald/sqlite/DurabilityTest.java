package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.append;
import static dev.herald.sqlite.Logs.countRows;
import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.MutableClock;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What survives closing and reopening the file. */
@Timeout(60)
class DurabilityTest {
  private static final Retention PLENTY = new Retention(10_000, Duration.ofHours(1));

  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-15T10:00:00Z"));

  private SqliteEventLog open(Path file, Retention retention) {
    SqliteEventLog log =
        SqliteEventLog.builder().path(file).retention(retention).clock(clock).build();
    log.listener(events -> {});
    return log;
  }

  @Test
  void reopenedFileHasEveryEventWithItsIdAndFields() throws Exception {
    Path file = dir.resolve("nested/dirs/events.db");
    List<StoredEvent> written = new ArrayList<>();
    try (SqliteEventLog log = open(file, PLENTY)) {
      for (int i = 0; i < 200; i++) {
        written.add(append(log, publication("{\"n\":" + i + "}\nsecond line", "t" + (i % 3))));
        clock.advance(Duration.ofMillis(7));
      }
      written.addAll(
          log.append(
                  List.of(
                      new Publication(
                          Set.of("t0", "t1"),
                          Event.builder()
                              .type("price")
                              .data("both")
                              .retry(Duration.ofMillis(1500))
                              .build()),
                      publication("", "t2")))
              .get(10, SECONDS));
    }
    assertThat(Files.exists(file)).as("parent directories created").isTrue();

    try (SqliteEventLog log = open(file, PLENTY)) {
      assertThat(readAll(log, Set.of("t0", "t1", "t2"), 64)).containsExactlyElementsOf(written);
      assertThat(log.lastId()).isEqualTo(written.get(written.size() - 1).id());
      StoredEvent next = append(log, publication("after reopen", "t0"));
      assertThat(next.id()).isGreaterThan(written.get(written.size() - 1).id());
    }
  }

  @Test
  void idsAreNeverReusedAfterRetentionDeletedEverything() throws Exception {
    Path file = dir.resolve("events.db");
    Retention shortLived = new Retention(100, Duration.ofSeconds(10));
    long newest;
    try (SqliteEventLog log = open(file, shortLived)) {
      for (int i = 0; i < 20; i++) {
        append(log, publication("e" + i, "a"));
      }
      newest = log.lastId();
      clock.advance(Duration.ofSeconds(11));
      assertThat(log.runRetention().get(10, SECONDS)).isEqualTo(20);
      assertThat(countRows(file, "SELECT count(*) FROM events")).isZero();
      assertThat(log.lastId()).isEqualTo(newest);
    }
    // The clock goes back, so nothing but the stored sequence keeps ids from repeating.
    clock.advance(Duration.ofMinutes(-5));
    try (SqliteEventLog log = open(file, shortLived)) {
      assertThat(log.lastId()).isEqualTo(newest);
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(newest);
      assertThat(readAll(log, Set.of("a"), 10)).isEmpty();
      StoredEvent fresh = append(log, publication("fresh", "a"));
      assertThat(fresh.id()).isEqualTo(newest + 1);
      assertThat(readAll(log, Set.of("a"), 10)).containsExactly(fresh);
    }
  }

  @Test
  void idsNeverFallBehindTheClockSoAnOlderCopyOfTheFileCannotRepeatThem() throws Exception {
    Path file = dir.resolve("events.db");
    Path backup = dir.resolve("backup.db");
    long firstId;
    try (SqliteEventLog log = open(file, PLENTY)) {
      firstId = append(log, publication("before the backup", "a")).id();
    }
    Files.copy(file, backup);
    long lostId;
    try (SqliteEventLog log = open(file, PLENTY)) {
      lostId = append(log, publication("lost with the file", "a")).id();
    }
    clock.advance(Duration.ofSeconds(1));
    try (SqliteEventLog restored = open(backup, PLENTY)) {
      assertThat(restored.lastId()).isEqualTo(firstId);
      StoredEvent next = append(restored, publication("after the restore", "a"));
      assertThat(next.id()).isGreaterThan(lostId);
    }
  }

  @Test
  void newFileCountsEveryEarlierIdAsDropped() throws Exception {
    try (SqliteEventLog log = open(dir.resolve("events.db"), PLENTY)) {
      long bootMicros = 1_768_471_200_000_000L; // 2026-01-15T10:00:00Z
      assertThat(log.lastId()).isZero();
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(bootMicros - 1);
      StoredEvent first = append(log, publication("x", "a"));
      assertThat(first.id()).isEqualTo(bootMicros);
      assertThat(log.droppedThrough(Set.of("a", "b"))).isEqualTo(bootMicros - 1);
    }
  }

  @Test
  void reopeningWithASmallerCountLimitTrimsEveryTopicAtOnce() throws Exception {
    Path file = dir.resolve("events.db");
    List<StoredEvent> a = new ArrayList<>();
    List<StoredEvent> b = new ArrayList<>();
    try (SqliteEventLog log = open(file, new Retention(100, Duration.ofHours(1)))) {
      for (int i = 0; i < 50; i++) {
        a.add(append(log, publication("a" + i, "a")));
        b.add(append(log, publication("b" + i, "b")));
      }
    }
    try (SqliteEventLog log = open(file, new Retention(10, Duration.ofHours(1)))) {
      assertThat(readAll(log, Set.of("a"), 100)).containsExactlyElementsOf(a.subList(40, 50));
      assertThat(readAll(log, Set.of("b"), 100)).containsExactlyElementsOf(b.subList(40, 50));
      assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(a.get(39).id());
      assertThat(log.droppedThrough(Set.of("a", "b"))).isEqualTo(b.get(39).id());
      assertThat(countRows(file, "SELECT count(*) FROM events")).isEqualTo(20);
    }
  }

  @Test
  void closeStoresEveryAppendSubmittedBeforeIt() throws Exception {
    Path file = dir.resolve("events.db");
    List<java.util.concurrent.CompletableFuture<List<StoredEvent>>> futures = new ArrayList<>();
    SqliteEventLog log = open(file, PLENTY);
    for (int i = 0; i < 500; i++) {
      futures.add(log.append(List.of(publication("e" + i, "a"))));
    }
    log.close();

    List<StoredEvent> acknowledged = new ArrayList<>();
    for (var future : futures) {
      acknowledged.addAll(future.get(10, SECONDS));
    }
    assertThat(acknowledged).hasSize(500);
    Path wal = dir.resolve("events.db-wal");
    assertThat(Files.exists(wal) ? Files.size(wal) : 0)
        .as("the write-ahead log was checkpointed into the file")
        .isZero();
    try (SqliteEventLog again = open(file, PLENTY)) {
      assertThat(readAll(again, Set.of("a"), 100)).containsExactlyElementsOf(acknowledged);
    }
  }
}
