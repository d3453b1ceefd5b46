package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.publication;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files written by earlier versions, built here with the SQL those versions ran (see the history of
 * Schema.java), open with their events, their drop watermarks and their count limit intact.
 */
@Timeout(30)
class SchemaMigrationTest {
  // Ids are microseconds: these predate the files' floor, as written by an earlier Herald.
  private static final long FLOOR = 1_000_000;
  // And their timestamps an hour ahead of the clock (which new ones never go below).
  private static final long CREATED_MS = System.currentTimeMillis() + 3_600_000;

  @TempDir Path dir;

  @Test
  void versionOneFileGainsKeysAndCursorsAndKeepsItsEvents() throws Exception {
    Path file = dir.resolve("events.db");
    writeOldFile(file, 1);
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).build()) {
      List<StoredEvent> old = log.readAfter(Set.of("t"), 0, 10);
      assertThat(old).extracting(e -> e.event().data()).containsExactly("t3", "tu");
      AppendReceipt first =
          log.append(
                  List.of(publication("new", "t")),
                  new IdempotencyKey("", "k", "f", Duration.ofHours(1)))
              .get(10, SECONDS);
      CursorKey key = CursorKey.of("phone", Set.of("t"));
      log.saveCursors(Map.of(key, old.get(0).id())).get(10, SECONDS);
      assertThat(log.cursor(key)).hasValue(old.get(0).id());
      assertThat(first.ids().get(0)).isGreaterThan(old.get(0).id());
    }
    assertThat(Logs.countRows(file, "PRAGMA user_version")).isEqualTo(Schema.VERSION);
    assertThat(Logs.countRows(file, "SELECT count(*) FROM idempotency_keys")).isEqualTo(1);
  }

  @Test
  void versionTwoFileKeepsItsDropWatermarksWithoutThePerCommitRows() throws Exception {
    Path file = dir.resolve("events.db");
    writeOldFile(file, 2);
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).build()) {
      // t lost ids up to FLOOR + 2 to retention under version 2: a reader from before hears it.
      assertThat(log.droppedThrough(Set.of("t"))).isEqualTo(FLOOR + 2);
      assertThat(log.droppedThrough(Set.of("u"))).isEqualTo(FLOOR);
      assertThat(log.readAfter(Set.of("u"), 0, 10))
          .extracting(e -> e.event().data())
          .containsExactly("u1", "tu", "u2");
      // The newest timestamp still bounds new ones, though no index on created_ms is left.
      StoredEvent fresh = Logs.append(log, publication("fresh", "u"));
      assertThat(fresh.timestamp().toEpochMilli()).isGreaterThanOrEqualTo(CREATED_MS + 9);
    }
    assertThat(Logs.countRows(file, "PRAGMA user_version")).isEqualTo(3);
    assertThat(
            Logs.countRows(
                file,
                "SELECT count(*) FROM sqlite_master WHERE name IN ('topics', 'events_created')"))
        .isZero();
    assertThat(Logs.countRows(file, "SELECT count(*) FROM topic_drops")).isEqualTo(1);
  }

  @Test
  void versionTwoFileUnderALowerCountLimitIsTrimmedOnceThenCountedInMemory() throws Exception {
    Path file = dir.resolve("events.db");
    writeOldFile(file, 2);
    Retention two = new Retention(2, Duration.ofHours(24));
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).retention(two).build()) {
      // u held three events; two are kept, and the oldest is reported dropped.
      assertThat(log.readAfter(Set.of("u"), 0, 10))
          .extracting(e -> e.event().data())
          .containsExactly("tu", "u2");
      assertThat(log.droppedThrough(Set.of("u"))).isEqualTo(FLOOR + 4);
      // The multi-topic event stays for t, which still retains it.
      assertThat(log.readAfter(Set.of("t"), 0, 10))
          .extracting(e -> e.event().data())
          .containsExactly("t3", "tu");
      // New appends count on from the rows: one more in u drops the next oldest, no more.
      StoredEvent u3 = Logs.append(log, publication("u3", "u"));
      assertThat(log.readAfter(Set.of("u"), 0, 10))
          .extracting(e -> e.event().data())
          .containsExactly("u2", "u3");
      assertThat(log.droppedThrough(Set.of("u"))).isEqualTo(FLOOR + 5);
      assertThat(u3.id()).isGreaterThan(FLOOR + 6);
    }
    assertThat(Logs.countRows(file, "SELECT value FROM meta WHERE key = 'count_limit'"))
        .isEqualTo(2);
    // tu went from u but t keeps it; u1 went from its only topic, and from the file.
    assertThat(Logs.countRows(file, "SELECT count(*) FROM events WHERE data = 'u1'")).isZero();
    assertThat(Logs.countRows(file, "SELECT count(*) FROM events WHERE data = 'tu'")).isEqualTo(1);
  }

  /**
   * A file as version {@code version} (1 or 2) wrote it: topic t retained one of three events (two
   * dropped by count), then u three events, one of them also in t.
   */
  private static void writeOldFile(Path file, int version) throws SQLException {
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement sql = connection.createStatement()) {
      sql.execute("PRAGMA journal_mode = WAL");
      sql.execute(
          "CREATE TABLE events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL,"
              + " retry_ms INTEGER, created_ms INTEGER NOT NULL, topics TEXT NOT NULL)");
      sql.execute("CREATE INDEX events_created ON events (created_ms)");
      sql.execute(
          "CREATE TABLE event_topics (topic TEXT NOT NULL, id INTEGER NOT NULL,"
              + " PRIMARY KEY (topic, id)) WITHOUT ROWID");
      sql.execute(
          "CREATE TABLE topics (topic TEXT PRIMARY KEY, retained INTEGER NOT NULL,"
              + " dropped_through INTEGER NOT NULL) WITHOUT ROWID");
      sql.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID");
      sql.execute(
          "INSERT INTO meta (key, value) VALUES ('last_id', "
              + (FLOOR + 2)
              + "), ('floor', "
              + FLOOR
              + ")");
      sql.execute("PRAGMA application_id = " + Schema.APPLICATION_ID);
      if (version >= 2) {
        sql.execute(
            "CREATE TABLE idempotency_keys (scope TEXT NOT NULL, key TEXT NOT NULL,"
                + " fingerprint TEXT NOT NULL, ids TEXT NOT NULL, expires_ms INTEGER NOT NULL,"
                + " PRIMARY KEY (scope, key)) WITHOUT ROWID");
        sql.execute("CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_ms)");
        sql.execute(
            "CREATE TABLE device_cursors (device TEXT NOT NULL, topics TEXT NOT NULL,"
                + " cursor INTEGER NOT NULL, saved_ms INTEGER NOT NULL,"
                + " PRIMARY KEY (device, topics)) WITHOUT ROWID");
        sql.execute("CREATE INDEX device_cursors_saved ON device_cursors (saved_ms)");
      }
      // t1 and t2 (FLOOR + 1, + 2) were dropped from t by count and deleted.
      insert(sql, FLOOR + 3, "t3", CREATED_MS + 3, "t");
      insert(sql, FLOOR + 4, "u1", CREATED_MS + 4, "u");
      insert(sql, FLOOR + 5, "tu", CREATED_MS + 5, "t", "u");
      insert(sql, FLOOR + 6, "u2", CREATED_MS + 9, "u");
      sql.execute("INSERT INTO topics VALUES ('t', 2, " + (FLOOR + 2) + "), ('u', 3, 0)");
      sql.execute("PRAGMA user_version = " + version);
    }
  }

  private static void insert(Statement sql, long id, String data, long createdMs, String... topics)
      throws SQLException {
    sql.execute(
        "INSERT INTO events VALUES ("
            + id
            + ", 'message', '"
            + data
            + "', NULL, "
            + createdMs
            + ", '"
            + String.join("\n", topics)
            + "')");
    for (String topic : topics) {
      sql.execute("INSERT INTO event_topics VALUES ('" + topic + "', " + id + ")");
    }
  }
}
