package dev.herald.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The search for the end of the aged prefix against a scan, on tables of every shape the writer can
 * leave: ids that follow the clock, ids that ran ahead of it, gaps left by count retention,
 * timestamps clamped flat, and cutoffs on, between and beyond every timestamp.
 */
@Timeout(60)
class AgedPrefixTest {
  @TempDir Path dir;
  private Connection connection;
  private AgedPrefix search;

  private record Row(long id, long createdMs) {}

  @BeforeEach
  void open() throws SQLException {
    connection = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("events.db"));
    try (Statement sql = connection.createStatement()) {
      sql.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL)");
    }
    search = new AgedPrefix(connection);
  }

  @AfterEach
  void close() throws SQLException {
    connection.close();
  }

  @Test
  void emptyTableHasNothingPastItsAge() throws SQLException {
    for (long cutoff : new long[] {Long.MIN_VALUE, -1, 0, 1_700_000_000_000L, Long.MAX_VALUE}) {
      assertThat(search.newestAtOrBefore(cutoff)).isZero();
    }
  }

  @Test
  void everyCutoffFindsTheNewestEventAtOrBeforeIt() throws SQLException {
    Random random = new Random(42);
    for (int table = 0; table < 60; table++) {
      List<Row> rows = randomTable(random, table % 3);
      replace(rows);
      TreeSet<Long> cutoffs = new TreeSet<>(List.of(Long.MIN_VALUE, -1L, 0L, Long.MAX_VALUE));
      for (Row row : rows) {
        cutoffs.add(row.createdMs - 1);
        cutoffs.add(row.createdMs);
        cutoffs.add(row.createdMs + 1);
      }
      for (long cutoff : cutoffs) {
        assertThat(search.newestAtOrBefore(cutoff))
            .as("table %d (%d rows), cutoff %d", table, rows.size(), cutoff)
            .isEqualTo(scan(rows, cutoff));
      }
    }
  }

  @Test
  void idsThatFollowTheClockAreSearchedInTwoSeeks() throws SQLException {
    assertEverySearchSeeksAtMost(0, 2);
  }

  @Test
  void idsFarAheadOfTheClockAreSearchedInLogarithmicSeeks() throws SQLException {
    // Two seeks per halving of a 63-bit id range, and the two of the first guess.
    assertEverySearchSeeksAtMost(1, 130);
  }

  /** Searches a table of {@code shape} for every timestamp in it, counting each search's seeks. */
  private void assertEverySearchSeeksAtMost(int shape, int seeks) throws SQLException {
    Random random = new Random(shape);
    List<Row> rows = List.of();
    while (rows.isEmpty()) {
      rows = randomTable(random, shape);
    }
    replace(rows);
    for (Row row : rows) {
      long before = search.seeks();
      assertThat(search.newestAtOrBefore(row.createdMs)).isEqualTo(scan(rows, row.createdMs));
      assertThat(search.seeks() - before).as("cutoff %d", row.createdMs).isLessThanOrEqualTo(seeks);
    }
  }

  /**
   * Rows as the writer leaves them. Shape 0: ids are the microseconds of their millisecond, with
   * gaps; shape 1: the clock stepped back, so timestamps stay flat while ids run on far ahead;
   * shape 2: a mix, with ids unrelated to the timestamps.
   */
  private static List<Row> randomTable(Random random, int shape) {
    List<Row> rows = new ArrayList<>();
    int size = random.nextInt(300);
    long created = 1_700_000_000_000L + random.nextInt(1_000_000);
    long id = shape == 2 ? 1 + random.nextInt(1_000) : created * 1000;
    for (int i = 0; i < size; i++) {
      switch (shape) {
        case 0 -> {
          created += random.nextInt(4) == 0 ? 0 : random.nextInt(50);
          id = Math.max(id + 1, created * 1000 + random.nextInt(1000));
        }
        case 1 -> {
          created += random.nextInt(10) == 0 ? random.nextInt(3) : 0;
          id += 1 + (random.nextBoolean() ? random.nextInt(3) : random.nextInt(1_000_000_000));
        }
        default -> {
          created += random.nextInt(3) == 0 ? 0 : random.nextInt(100_000);
          id += 1 + random.nextInt(random.nextBoolean() ? 5 : 1 << 30);
        }
      }
      if (random.nextInt(5) > 0) {
        // The others were deleted by count retention.
        rows.add(new Row(id, created));
      }
    }
    return rows;
  }

  private void replace(List<Row> rows) throws SQLException {
    try (Statement sql = connection.createStatement();
        PreparedStatement insert =
            connection.prepareStatement("INSERT INTO events VALUES (?, ?)")) {
      sql.execute("DELETE FROM events");
      for (Row row : rows) {
        insert.setLong(1, row.id);
        insert.setLong(2, row.createdMs);
        insert.executeUpdate();
      }
    }
  }

  private static long scan(List<Row> rows, long cutoff) {
    long newest = 0;
    for (Row row : rows) {
      if (row.createdMs <= cutoff) {
        newest = row.id;
      }
    }
    return newest;
  }
}
