package dev.herald.sqlite;

import dev.herald.server.StoreUnavailableException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The one connection that writes the file, and its transaction control. The writer opens and ends
 * every transaction itself ({@code BEGIN IMMEDIATE} ... {@code COMMIT}, see {@link
 * Database#openWriter}); the control statements are compiled once because the savepoints run once
 * per append of a group stored append by append.
 *
 * <p>Used only while holding the writer's lock ({@link WriteLoop}), and before the writer starts by
 * the thread that builds the log.
 */
final class WriterConnection {
  private static final System.Logger LOG = System.getLogger(WriterConnection.class.getName());

  /** Work done inside {@link #inTransaction}. */
  interface Work<T> {
    T run() throws SQLException;
  }

  private final Path file;
  private final int busyTimeoutMillis;
  private final Connection connection;
  private final Statement statement;
  private final PreparedStatement begin;
  private final PreparedStatement commit;
  private final PreparedStatement rollback;
  private final PreparedStatement savepoint;
  private final PreparedStatement release;
  private final PreparedStatement rollbackToSavepoint;

  WriterConnection(Path file, int busyTimeoutMillis, Connection connection) throws SQLException {
    this.file = file;
    this.busyTimeoutMillis = busyTimeoutMillis;
    this.connection = connection;
    this.statement = connection.createStatement();
    begin = connection.prepareStatement("BEGIN IMMEDIATE");
    commit = connection.prepareStatement("COMMIT");
    rollback = connection.prepareStatement("ROLLBACK");
    savepoint = connection.prepareStatement("SAVEPOINT append");
    release = connection.prepareStatement("RELEASE append");
    rollbackToSavepoint = connection.prepareStatement("ROLLBACK TO append");
  }

  Path file() {
    return file;
  }

  Connection connection() {
    return connection;
  }

  PreparedStatement prepare(String sql) throws SQLException {
    return connection.prepareStatement(sql);
  }

  void begin() throws SQLException {
    begin.execute();
  }

  void commit() throws SQLException {
    commit.execute();
  }

  void rollback() throws SQLException {
    rollback.execute();
  }

  /** Rolls back after {@code cause}, adding a failure of the rollback to it. */
  void rollbackQuietly(Throwable cause) {
    Schema.rollbackQuietly(statement, cause);
  }

  /** Marks where one append of a group starts, so that it can fail alone. */
  void savepoint() throws SQLException {
    savepoint.execute();
  }

  void releaseSavepoint() throws SQLException {
    release.execute();
  }

  void rollbackToSavepoint() throws SQLException {
    rollbackToSavepoint.execute();
  }

  /**
   * Runs {@code work} in one transaction and commits it; rolls back and rethrows if the work or the
   * commit fails.
   */
  <T> T inTransaction(Work<T> work) throws SQLException {
    begin();
    try {
      T result = work.run();
      commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      rollbackQuietly(e);
      throw e;
    }
  }

  /**
   * Copies what is left of the write-ahead log into the database file and starts the log again from
   * its beginning ({@code RESTART}), waiting for no reader: with a reader still on the log it
   * copies what it can and leaves the log as it is (see {@link Checkpointer}).
   *
   * @return whether the log starts again
   */
  boolean restartLog() throws SQLException {
    try (Statement pragma = connection.createStatement()) {
      pragma.execute("PRAGMA busy_timeout = 0");
      try (ResultSet result = pragma.executeQuery("PRAGMA wal_checkpoint(RESTART)")) {
        return result.next() && result.getInt(1) == 0;
      } finally {
        pragma.execute("PRAGMA busy_timeout = " + busyTimeoutMillis);
      }
    }
  }

  /** Checkpoints and closes the connection; failures are logged, as nothing waits on them. */
  void close() {
    try {
      // Moves the write-ahead log into the database file and truncates it: a clean file.
      statement.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "checkpoint on close failed for " + file, e);
    }
    Database.closeQuietly(connection);
  }

  StoreUnavailableException closed() {
    return SqliteEventLog.closed(file);
  }

  /** A write that failed: says what could not be done, in which file, and SQLite's reason. */
  StoreUnavailableException unavailable(String what, Throwable cause) {
    return new StoreUnavailableException(what + " in " + file + ": " + cause.getMessage(), cause);
  }
}
