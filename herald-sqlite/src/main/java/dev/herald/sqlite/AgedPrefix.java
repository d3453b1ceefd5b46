package dev.herald.sqlite;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Finds where the events past their age end. {@code created_ms} never decreases with {@code id}
 * (the writer clamps it), so those events are an id prefix of the table, and the newest of them is
 * found by a search over ids, each step one seek in the rowid b-tree — no index on {@code
 * created_ms} to keep up in every commit (schema version 3 dropped it: one page fewer per commit).
 *
 * <p>Ids are microsecond timestamps never below their event's {@code created_ms} (see {@link
 * WriteLoop}), so the first guess, the end of the cutoff's millisecond, nearly always lands at the
 * boundary: two seeks. Where ids ran ahead of the clock (it stepped back) the search still ends, in
 * at most about 64 halvings of the id range.
 */
final class AgedPrefix {
  private final PreparedStatement firstFrom;
  private final PreparedStatement lastBelow;

  /** An event a seek found. */
  private record Row(long id, long createdMs) {}

  // Seeks run so far: the cost of a search, for tests.
  private long seeks;

  AgedPrefix(Connection connection) throws SQLException {
    firstFrom =
        connection.prepareStatement(
            "SELECT id, created_ms FROM events WHERE id >= ? AND id < ? ORDER BY id LIMIT 1");
    lastBelow =
        connection.prepareStatement(
            "SELECT id, created_ms FROM events WHERE id > ? AND id < ? ORDER BY id DESC LIMIT 1");
  }

  /**
   * The id of the newest event created at or before {@code cutoffMs}, 0 if there is none. Call it
   * inside a transaction when the answer must agree with other reads.
   */
  long newestAtOrBefore(long cutoffMs) throws SQLException {
    // Every event with an id up to aged is past its age; none from young on is.
    long aged = 0;
    long young = Long.MAX_VALUE;
    long probe = guess(cutoffMs);
    while (aged + 1 < young) {
      probe = Math.max(aged + 1, Math.min(probe, young - 1));
      Row row = seek(firstFrom, probe, young);
      if (row != null && row.createdMs <= cutoffMs) {
        // The boundary is usually right after: nothing follows, or what follows is young.
        Row next = seek(firstFrom, row.id + 1, young);
        if (next == null || next.createdMs > cutoffMs) {
          return row.id;
        }
        aged = next.id;
      } else {
        // No event from the probe on is past its age (ids between the probe and the row found do
        // not exist); the boundary is usually the event just below.
        Row previous = seek(lastBelow, aged, probe);
        if (previous == null) {
          return aged;
        }
        if (previous.createdMs <= cutoffMs) {
          return previous.id;
        }
        young = previous.id;
      }
      probe = aged + (young - aged) / 2;
    }
    return aged;
  }

  /** The first (or, for {@link #lastBelow}, the last) event between two ids, null if none. */
  private Row seek(PreparedStatement seek, long from, long below) throws SQLException {
    seeks++;
    seek.setLong(1, from);
    seek.setLong(2, below);
    try (ResultSet row = seek.executeQuery()) {
      return row.next() ? new Row(row.getLong(1), row.getLong(2)) : null;
    }
  }

  long seeks() {
    return seeks;
  }

  /** The last microsecond of the cutoff's millisecond, saturated. */
  private static long guess(long cutoffMs) {
    if (cutoffMs < 0) {
      return 1;
    }
    if (cutoffMs >= Long.MAX_VALUE / 1000 - 1) {
      return Long.MAX_VALUE - 1;
    }
    return (cutoffMs + 1) * 1000 - 1;
  }
}
