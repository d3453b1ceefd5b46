package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.countRows;
import static dev.herald.sqlite.Logs.publication;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.Retention;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The write-ahead log is copied off the writer thread ({@link Checkpointer}): under steady appends
 * on many topics (each commit changing several pages) it stays bounded, a reader that holds the log
 * open never makes an append wait, and everything is in the file after a restart.
 */
@Timeout(120)
class CheckpointTest {
  private static final double MIB = 1024 * 1024;

  @TempDir Path dir;

  @Test
  void theLogRestartsUnderSteadyAppendsOnManyTopics() throws Exception {
    Path file = dir.resolve("events.db");
    Path wal = dir.resolve("events.db-wal");
    int appends = 30_000;
    long largest = 0;
    SplittableRandom random = new SplittableRandom(21);
    try (SqliteEventLog log =
        SqliteEventLog.builder()
            .path(file)
            .retention(new Retention(1_000, Duration.ofHours(1)))
            .build()) {
      for (int i = 0; i < appends; i++) {
        // One commit per append, each on a topic of its own as per-member topics are: about four
        // changed pages a commit, so without restarts the log would pass 400 MiB.
        log.append(List.of(publication("e" + i, "members/" + random.nextInt(20_000))))
            .get(10, SECONDS);
        if (i % 250 == 0 && Files.exists(wal)) {
          largest = Math.max(largest, Files.size(wal));
        }
      }
      long restarts = log.logRestartCount();
      System.out.printf(
          "checkpoints: %d appends in %d commits, the log restarted %d times, at most %.1f MiB%n",
          appends, log.transactionCount(), restarts, largest / MIB);
      assertThat(log.transactionCount()).as("one commit per append").isEqualTo(appends);
      // About 4 pages a commit: 120 000 frames, a restart due every 4 000. How large the log
      // grows between restarts depends on how long the disk takes to sync a copy (up to 103 MiB
      // on a loaded CI machine, 35 MiB on a quiet one), so the restarts are what is checked.
      assertThat(restarts).as("restarts of the write-ahead log").isGreaterThanOrEqualTo(2);
    }
    assertThat(countRows(file, "SELECT count(*) FROM events")).isEqualTo(appends);
  }

  @Test
  void aReaderHoldingTheLogNeverMakesAnAppendWait() throws Exception {
    Path file = dir.resolve("events.db");
    try (SqliteEventLog log = SqliteEventLog.builder().path(file).build()) {
      log.append(List.of(publication("first", "news"))).get(10, SECONDS);
      long slowest = 0;
      int appends = 12_000;
      SplittableRandom random = new SplittableRandom(7);
      // A read transaction kept open: no checkpoint can copy past its snapshot, so no restart
      // can succeed while it lasts; each one the writer tries must give up at once.
      try (Connection reader = DriverManager.getConnection("jdbc:sqlite:" + file);
          Statement statement = reader.createStatement()) {
        statement.execute("BEGIN");
        try (ResultSet row = statement.executeQuery("SELECT count(*) FROM events")) {
          assertThat(row.next()).isTrue();
        }
        for (int i = 0; i < appends; i++) {
          long start = System.nanoTime();
          log.append(List.of(publication("e" + i, "members/" + random.nextInt(20_000))))
              .get(10, SECONDS);
          slowest = Math.max(slowest, System.nanoTime() - start);
        }
        assertThat(log.logRestartCount())
            .as("restarts while a reader held the log (each one gave up)")
            .isZero();
        statement.execute("COMMIT");
      }
      System.out.printf(
          "checkpoints with a reader holding the log: slowest of %d appends %.1f ms%n",
          appends, slowest / 1e6);
      // The writer's busy timeout is 5 s: a restart that waited for the reader would take that.
      assertThat(TimeUnit.NANOSECONDS.toMillis(slowest)).isLessThan(2_000);
      // And once the reader is gone the log restarts again.
      for (int i = 0; i < appends; i++) {
        log.append(List.of(publication("f" + i, "members/" + random.nextInt(20_000))))
            .get(10, SECONDS);
      }
      assertThat(log.logRestartCount()).as("restarts after the reader left").isPositive();
    }
    assertThat(countRows(file, "SELECT count(*) FROM events")).isEqualTo(1 + 2L * 12_000);
  }
}
