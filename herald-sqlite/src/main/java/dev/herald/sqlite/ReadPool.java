package dev.herald.sqlite;

import dev.herald.server.StoreUnavailableException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A few read connections, each used by one thread at a time. In WAL mode they read a committed
 * snapshot and never wait for the writer, nor it for them. Connections open on first need; one that
 * failed is discarded rather than reused.
 */
final class ReadPool {
  private static final System.Logger LOG = System.getLogger(ReadPool.class.getName());

  /** A read on one connection. */
  @FunctionalInterface
  interface ReadFunction<T> {
    T apply(Reader reader) throws SQLException;
  }

  private final Database database;
  private final int size;
  private final Semaphore permits;
  private final long waitMillis;
  private final AgeLimit ageLimit;
  private final long floor;
  private final ConcurrentLinkedDeque<Reader> idle = new ConcurrentLinkedDeque<>();
  private volatile boolean closed;

  ReadPool(Database database, int size, Duration busyTimeout, AgeLimit ageLimit, long floor) {
    this.database = database;
    this.size = size;
    this.permits = new Semaphore(size, true);
    // A reader waits at most about as long as a statement may wait for a lock.
    this.waitMillis = busyTimeout.toMillis() + 1000;
    this.ageLimit = ageLimit;
    this.floor = floor;
  }

  <T> T read(ReadFunction<T> function) {
    if (closed) {
      throw closedException();
    }
    try {
      if (!permits.tryAcquire(waitMillis, TimeUnit.MILLISECONDS)) {
        throw new StoreUnavailableException(
            "all " + size + " read connections of " + database.file() + " stayed busy");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreUnavailableException("interrupted while waiting to read", e);
    }
    Reader reader = null;
    try {
      if (closed) {
        throw closedException();
      }
      reader = idle.pollFirst();
      if (reader == null) {
        reader = new Reader(database.openReader(), ageLimit, floor);
      }
      T result = function.apply(reader);
      idle.addFirst(reader);
      reader = null;
      if (closed) {
        closeIdle();
      }
      return result;
    } catch (SQLException e) {
      throw new StoreUnavailableException(
          "cannot read the SQLite event log " + database.file() + ": " + e.getMessage(), e);
    } finally {
      if (reader != null) {
        reader.close();
      }
      permits.release();
    }
  }

  /** Waits (bounded) for reads in progress, then closes every connection. */
  void close() {
    closed = true;
    try {
      if (!permits.tryAcquire(size, waitMillis, TimeUnit.MILLISECONDS)) {
        LOG.log(
            System.Logger.Level.WARNING,
            "reads of {0} still running at close; their connections close when they end",
            database.file());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeIdle();
  }

  private void closeIdle() {
    Reader reader;
    while ((reader = idle.pollFirst()) != null) {
      reader.close();
    }
  }

  private StoreUnavailableException closedException() {
    return new StoreUnavailableException("the SQLite event log " + database.file() + " is closed");
  }
}
