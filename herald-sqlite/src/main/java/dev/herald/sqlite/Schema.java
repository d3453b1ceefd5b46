package dev.herald.sqlite;

import dev.herald.server.StoreUnavailableException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The tables, created on a new file and migrated on an old one ({@code PRAGMA user_version}).
 *
 * <ul>
 *   <li>{@code events}: one row per event; {@code id} is the rowid, so reads by id are one b-tree
 *       search. {@code topics} keeps every topic the event was published to (newline-separated:
 *       topics cannot contain control characters), which stays right even when count retention has
 *       dropped the event from some of them. {@code created_ms} never decreases with {@code id}
 *       (the writer clamps it), so the events past their age are always an id prefix, found by a
 *       search over ids ({@link AgedPrefix}).
 *   <li>{@code event_topics}: the retained (topic, id) pairs, clustered by topic then id, so a
 *       topic's events after a position are one range search and come out in id order.
 *   <li>{@code topic_drops} (version 3): per topic that retention has deleted from, the highest id
 *       it deleted. How many events a topic retains is counted in memory ({@link RetainedCounts}).
 *   <li>{@code meta}: {@code last_id}, the newest id ever assigned, as far as the newest stored
 *       event does not tell: the retention job writes it in every transaction that deletes events,
 *       so ids survive the deletion of every event, and crashes; {@code floor}, the file's creation
 *       time in microseconds less one: ids up to it are not this file's, and count as dropped; and
 *       {@code count_limit} (version 3), the count limit every topic's history obeys.
 *   <li>{@code idempotency_keys} (version 2): per (scope, key), the request's fingerprint, the ids
 *       it stored (comma-separated) and when the key expires; written in the events' transaction.
 *   <li>{@code device_cursors} (version 2): per device and topic set (sorted, newline-separated),
 *       the id of the last event written to the device's stream, and when it was saved.
 * </ul>
 */
final class Schema {
  /** The schema this code writes; files with a newer one are refused. */
  static final int VERSION = 3;

  /** Marks the file as Herald's ({@code PRAGMA application_id}, "Hrld"). */
  static final int APPLICATION_ID = 0x48726c64;

  /**
   * What the writer and readers need to continue a file.
   *
   * @param lastId the newest id ever assigned, 0 if none
   * @param floor every id up to this one predates the file: it counts as dropped
   * @param lastCreatedMs the newest timestamp stored, which later ones never go below
   */
  record State(long lastId, long floor, long lastCreatedMs) {}

  private Schema() {}

  /** Creates or migrates the schema, then reads the state the writer continues from. */
  static State open(Connection connection, Clock clock) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("BEGIN IMMEDIATE");
      try {
        int version = queryInt(statement, "PRAGMA user_version");
        int applicationId = queryInt(statement, "PRAGMA application_id");
        if (version == 0) {
          if (applicationId != 0 && applicationId != APPLICATION_ID
              || queryInt(statement, "SELECT count(*) FROM sqlite_master") > 0) {
            throw notHerald(
                "it has tables but no Herald schema (application_id "
                    + Integer.toHexString(applicationId)
                    + ")");
          }
          create(statement, clock);
          addKeysAndCursors(statement);
          version = VERSION;
        } else if (applicationId != APPLICATION_ID) {
          throw notHerald(
              "its application_id is " + Integer.toHexString(applicationId) + ", not Herald's");
        } else if (version > VERSION) {
          throw new StoreUnavailableException(
              "the file has schema version "
                  + version
                  + ", written by a newer Herald; this one reads up to "
                  + VERSION);
        }
        if (version < 2) {
          addKeysAndCursors(statement);
        }
        if (version < 3) {
          // Version 3: two pages fewer per commit. No index on created_ms (AgedPrefix searches the
          // ids instead), and no per-topic row counted up in every commit (RetainedCounts counts in
          // memory): what is left of a topic's row is the highest id dropped from it.
          statement.execute("DROP INDEX events_created");
          createTopicDrops(statement);
          statement.execute(
              "INSERT INTO topic_drops (topic, through)"
                  + " SELECT topic, dropped_through FROM topics WHERE dropped_through > 0");
          statement.execute("DROP TABLE topics");
        }
        statement.execute("PRAGMA user_version = " + VERSION);
        statement.execute("COMMIT");
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(statement, e);
        throw e;
      }
      long lastId = queryLong(statement, "SELECT value FROM meta WHERE key = 'last_id'");
      long floor = queryLong(statement, "SELECT value FROM meta WHERE key = 'floor'");
      long maxId = queryLong(statement, "SELECT coalesce(max(id), 0) FROM events");
      // created_ms never decreases with id: the newest event has the newest.
      long lastCreated =
          queryLong(statement, "SELECT created_ms FROM events ORDER BY id DESC LIMIT 1");
      return new State(Math.max(lastId, maxId), floor, lastCreated);
    }
  }

  /** Version 2: idempotency keys, remembered in the transaction of their events. */
  private static void addKeysAndCursors(Statement statement) throws SQLException {
    statement.execute(
        "CREATE TABLE idempotency_keys ("
            + "scope TEXT NOT NULL, "
            + "key TEXT NOT NULL, "
            + "fingerprint TEXT NOT NULL, "
            + "ids TEXT NOT NULL, "
            + "expires_ms INTEGER NOT NULL, "
            + "PRIMARY KEY (scope, key)) WITHOUT ROWID");
    statement.execute("CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_ms)");
    // And device cursors: per device and topic set, the last event written to its stream.
    statement.execute(
        "CREATE TABLE device_cursors ("
            + "device TEXT NOT NULL, "
            + "topics TEXT NOT NULL, "
            + "cursor INTEGER NOT NULL, "
            + "saved_ms INTEGER NOT NULL, "
            + "PRIMARY KEY (device, topics)) WITHOUT ROWID");
    statement.execute("CREATE INDEX device_cursors_saved ON device_cursors (saved_ms)");
  }

  private static void createTopicDrops(Statement statement) throws SQLException {
    statement.execute(
        "CREATE TABLE topic_drops ("
            + "topic TEXT PRIMARY KEY, "
            + "through INTEGER NOT NULL) WITHOUT ROWID");
  }

  private static void create(Statement statement, Clock clock) throws SQLException {
    statement.execute(
        "CREATE TABLE events ("
            + "id INTEGER PRIMARY KEY, "
            + "type TEXT NOT NULL, "
            + "data TEXT NOT NULL, "
            + "retry_ms INTEGER, "
            + "created_ms INTEGER NOT NULL, "
            + "topics TEXT NOT NULL)");
    statement.execute(
        "CREATE TABLE event_topics ("
            + "topic TEXT NOT NULL, "
            + "id INTEGER NOT NULL, "
            + "PRIMARY KEY (topic, id)) WITHOUT ROWID");
    createTopicDrops(statement);
    statement.execute(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID");
    // A new file cannot tell whether an older one was lost: every id a store could have handed
    // out before now counts as dropped, as in the memory log, so old positions read as expired.
    long floor = Math.max(0, micros(clock.instant()) - 1);
    statement.execute(
        "INSERT INTO meta (key, value) VALUES ('last_id', 0), ('floor', " + floor + ")");
    statement.execute("PRAGMA application_id = " + APPLICATION_ID);
  }

  /** Microseconds since the epoch: the unit of ids, which never fall behind the clock. */
  static long micros(Instant instant) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, instant);
  }

  private static StoreUnavailableException notHerald(String why) {
    return new StoreUnavailableException("the file is not a Herald event store: " + why);
  }

  static int queryInt(Statement statement, String sql) throws SQLException {
    return (int) queryLong(statement, sql);
  }

  static long queryLong(Statement statement, String sql) throws SQLException {
    try (ResultSet result = statement.executeQuery(sql)) {
      return result.next() ? result.getLong(1) : 0;
    }
  }

  static void rollbackQuietly(Statement statement, Throwable cause) {
    try {
      statement.execute("ROLLBACK");
    } catch (SQLException e) {
      // SQLite may already have rolled back on its own (I/O errors, a full disk).
      cause.addSuppressed(e);
    }
  }
}
