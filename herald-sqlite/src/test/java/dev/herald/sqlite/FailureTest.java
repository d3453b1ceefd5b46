package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.append;
import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Files that cannot be used, and a file that stops working for a while. */
@Timeout(60)
class FailureTest {
  @TempDir Path dir;

  private SqliteEventLog open(Path file) {
    SqliteEventLog log =
        SqliteEventLog.builder().path(file).busyTimeout(Duration.ofMillis(200)).build();
    log.listener(events -> {});
    return log;
  }

  @Test
  void corruptFileIsRefusedWithAClearReasonAndLeftUntouched() throws Exception {
    Path file = dir.resolve("events.db");
    byte[] garbage =
        "this is not a database, just text. ".repeat(200).getBytes(StandardCharsets.UTF_8);
    Files.write(file, garbage);

    assertThatThrownBy(() -> open(file))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("not a database");
    assertThat(Files.readAllBytes(file)).isEqualTo(garbage);

    // Nothing stays locked: once the file is replaced, it opens.
    Files.delete(file);
    try (SqliteEventLog log = open(file)) {
      assertThat(append(log, publication("x", "a")).id()).isPositive();
    }
  }

  @Test
  void fileThatCannotBeCreatedIsRefused() throws Exception {
    Path notADirectory = dir.resolve("plain-file");
    Files.writeString(notADirectory, "x");

    assertThatThrownBy(() -> open(notADirectory.resolve("events.db")))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("events.db");
  }

  @Test
  void foreignDatabaseAndNewerSchemaAreRefused() throws Exception {
    Path foreign = dir.resolve("foreign.db");
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + foreign);
        Statement statement = connection.createStatement()) {
      statement.execute("CREATE TABLE users (name TEXT)");
    }
    assertThatThrownBy(() -> open(foreign))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("not a Herald event store");

    Path newer = dir.resolve("newer.db");
    open(newer).close();
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + newer);
        Statement statement = connection.createStatement()) {
      statement.execute("PRAGMA user_version = " + (Schema.VERSION + 1));
    }
    assertThatThrownBy(() -> open(newer))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("newer Herald");
  }

  @Test
  void secondLogOnTheSameFileIsRefusedWhileTheFirstIsOpen() throws Exception {
    Path file = dir.resolve("events.db");
    try (SqliteEventLog first = open(file)) {
      assertThatThrownBy(() -> open(file))
          .isInstanceOf(StoreUnavailableException.class)
          .hasMessageContaining("already open");
      assertThat(append(first, publication("still works", "a")).id()).isPositive();
    }
    try (SqliteEventLog again = open(file)) {
      assertThat(readAll(again, Set.of("a"), 10)).hasSize(1);
    }
  }

  @Test
  void appendFailsAndStoresNothingWhileAnotherConnectionHoldsTheWriteLock() throws Exception {
    Path file = dir.resolve("events.db");
    try (SqliteEventLog log = open(file)) {
      StoredEvent before = append(log, publication("before", "a"));
      CompletableFuture<List<StoredEvent>> blocked;
      try (Connection intruder = DriverManager.getConnection("jdbc:sqlite:" + file);
          Statement statement = intruder.createStatement()) {
        statement.execute("BEGIN IMMEDIATE");

        blocked = log.append(List.of(publication("blocked", "a"), publication("too", "b")));
        assertThat(blocked)
            .failsWithin(Duration.ofSeconds(10))
            .withThrowableThat()
            .havingCause()
            .isInstanceOf(StoreUnavailableException.class)
            .withMessageContaining("locked");
        assertThat(log.isAvailable()).as("available while the file is locked").isFalse();
        assertThat(log.lastId()).isEqualTo(before.id());
        assertThat(readAll(log, Set.of("a", "b"), 10))
            .as("reads still work, and see nothing of the failed append")
            .containsExactly(before);
        assertThat(log.probe().get(10, SECONDS)).isFalse();

        statement.execute("ROLLBACK");
      }

      assertThat(log.probe().get(10, SECONDS)).isTrue();
      assertThat(log.isAvailable()).isTrue();
      StoredEvent after = append(log, publication("after", "a"));
      assertThat(after.id()).isGreaterThan(before.id());
      assertThat(readAll(log, Set.of("a", "b"), 10)).containsExactly(before, after);
    }
  }

  @Test
  void closedLogRefusesReadsAndReportsUnavailable() throws Exception {
    SqliteEventLog log = open(dir.resolve("events.db"));
    append(log, publication("x", "a"));
    assertThat(log.isAvailable()).isTrue();
    log.close();

    assertThat(log.isAvailable()).isFalse();
    assertThatThrownBy(() -> log.readAfter(Set.of("a"), 0, 10))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> log.droppedThrough(Set.of("a")))
        .isInstanceOf(StoreUnavailableException.class);
    assertThat(log.append(List.of(publication("y", "a"))))
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class);
  }
}
