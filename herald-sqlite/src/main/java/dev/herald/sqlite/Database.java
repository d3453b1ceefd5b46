package dev.herald.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteLimits;

/** Opens connections to one database file with the settings every connection shares. */
final class Database {
  private static final System.Logger LOG = System.getLogger(Database.class.getName());

  /** Keeps the write-ahead log from staying large after a burst has been checkpointed. */
  private static final int JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

  private final Path file;
  private final boolean fsync;
  private final int busyTimeoutMillis;
  private final int maxValueBytes;

  /**
   * @param maxValueBytes the longest string the writer may store (SQLite's length limit), 0 for
   *     SQLite's default of a billion bytes
   */
  Database(Path file, boolean fsync, Duration busyTimeout, int maxValueBytes) {
    this.file = file;
    this.fsync = fsync;
    this.busyTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, busyTimeout.toMillis());
    this.maxValueBytes = maxValueBytes;
  }

  Path file() {
    return file;
  }

  /** Whether a commit syncs the file (synchronous FULL) before it returns. */
  boolean fsync() {
    return fsync;
  }

  /** The one connection that writes: WAL mode, synchronous FULL or NORMAL. */
  Connection openWriter() throws SQLException {
    SQLiteConfig config = base();
    config.setJournalMode(SQLiteConfig.JournalMode.WAL);
    config.setSynchronous(
        fsync ? SQLiteConfig.SynchronousMode.FULL : SQLiteConfig.SynchronousMode.NORMAL);
    config.setJournalSizeLimit(JOURNAL_SIZE_LIMIT);
    Connection connection = config.createConnection(url());
    try {
      if (maxValueBytes > 0) {
        connection
            .unwrap(SQLiteConnection.class)
            .setLimit(SQLiteLimits.SQLITE_LIMIT_LENGTH, maxValueBytes);
      }
      // The writer opens and ends every transaction itself (BEGIN IMMEDIATE ... COMMIT). In the
      // driver's auto-commit mode, every statement is followed by a "begin; commit;" attempt,
      // three more native calls each; telling the driver it is not in auto-commit mode (without
      // letting it begin a transaction of its own) skips them.
      connection.unwrap(SQLiteConnection.class).getConnectionConfig().setAutoCommit(false);
      try (Statement statement = connection.createStatement()) {
        // No checkpoint in a commit: the Checkpointer copies the log on a thread of its own.
        statement.execute("PRAGMA wal_autocheckpoint = 0");
      }
      try (Statement statement = connection.createStatement();
          ResultSet mode = statement.executeQuery("PRAGMA journal_mode")) {
        // journal_mode=WAL silently stays on the old mode where WAL is impossible.
        String journalMode = mode.next() ? mode.getString(1) : "";
        if (!"wal".equalsIgnoreCase(journalMode)) {
          throw new SQLException(
              "the file does not support WAL mode (journal_mode is " + journalMode + ")");
        }
      }
    } catch (SQLException | RuntimeException e) {
      closeQuietly(connection);
      throw e;
    }
    return connection;
  }

  /** The checkpointer's connection: it syncs at checkpoints as the writer would. */
  Connection openCheckpointer() throws SQLException {
    SQLiteConfig config = base();
    config.setSynchronous(
        fsync ? SQLiteConfig.SynchronousMode.FULL : SQLiteConfig.SynchronousMode.NORMAL);
    return config.createConnection(url());
  }

  int busyTimeoutMillis() {
    return busyTimeoutMillis;
  }

  /** A connection for reads only: it can never take the write lock by mistake. */
  Connection openReader() throws SQLException {
    Connection connection = base().createConnection(url());
    try (Statement statement = connection.createStatement()) {
      statement.execute("PRAGMA query_only = 1");
    } catch (SQLException | RuntimeException e) {
      closeQuietly(connection);
      throw e;
    }
    return connection;
  }

  private SQLiteConfig base() {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(busyTimeoutMillis);
    config.setTempStore(SQLiteConfig.TempStore.MEMORY);
    // Nothing here reads generated keys; with them on, the driver compiles and runs "SELECT
    // last_insert_rowid()" after every INSERT, which was a large share of the writer's time.
    config.setGetGeneratedKeys(false);
    return config;
  }

  private String url() {
    return "jdbc:sqlite:" + file;
  }

  static void closeQuietly(Connection connection) {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException e) {
        LOG.log(System.Logger.Level.DEBUG, "closing a connection failed", e);
      }
    }
  }
}
