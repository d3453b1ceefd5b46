package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.append;
import static dev.herald.sqlite.Logs.publication;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class SchemaMigrationTest {
  @TempDir Path dir;

  @Test
  void versionOneFileGainsKeysAndCursorsAndKeepsItsEvents() throws Exception {
    Path file = dir.resolve("events.db");
    StoredEvent old;
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).build()) {
      old = append(log, publication("old", "t"));
    }
    // Turn it back into what version 1 wrote.
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement statement = connection.createStatement()) {
      statement.execute("DROP TABLE idempotency_keys");
      statement.execute("DROP TABLE device_cursors");
      statement.execute("PRAGMA user_version = 1");
    }
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).build()) {
      assertThat(log.readAfter(Set.of("t"), 0, 10)).containsExactly(old);
      AppendReceipt first =
          log.append(
                  List.of(publication("new", "t")),
                  new IdempotencyKey("", "k", "f", Duration.ofHours(1)))
              .get(10, SECONDS);
      CursorKey key = CursorKey.of("phone", Set.of("t"));
      log.saveCursors(Map.of(key, old.id())).get(10, SECONDS);
      assertThat(log.cursor(key)).hasValue(old.id());
      assertThat(first.ids().get(0)).isGreaterThan(old.id());
    }
    assertThat(Logs.countRows(file, "PRAGMA user_version")).isEqualTo(Schema.VERSION);
    assertThat(Logs.countRows(file, "SELECT count(*) FROM idempotency_keys")).isEqualTo(1);
  }
}
