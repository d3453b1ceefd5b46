package dev.herald.sqlite;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Copies the write-ahead log into the database file on a thread of its own, so that publishes never
 * wait for it.
 *
 * <p><b>Why not SQLite's automatic checkpoint.</b> It runs inside the commit that crosses its
 * threshold, on the writer thread: that commit copies every page changed since the last checkpoint
 * (tens of megabytes under load: an event on a topic of its own changes about four pages) and syncs
 * both files, and every publish queued behind it waits. Measured with 18500 per-member topics at
 * 5000 publishes/s, that set the 99th percentile of publish-to-delivery at 24-33 ms; without any
 * checkpoint it was 5.5 ms (docs/performance.md, "Per-member latency (issue 21)"). The writer
 * therefore runs with {@code wal_autocheckpoint = 0} (see {@link Database}).
 *
 * <p><b>Passive copies, short restarts.</b> Every {@link #INTERVAL_NANOS} in which the writer
 * committed, this thread runs a {@code PASSIVE} checkpoint on its own connection: it copies what it
 * can without taking any lock a writer or reader needs. The log only starts again from its
 * beginning when a transaction begins with every frame copied, which under steady appends never
 * happens (the writer always commits during the copy), so once the log holds {@link
 * #RESTART_FRAMES} frames this thread asks the writer, between two groups, to run a {@code RESTART}
 * checkpoint: it has only the frames committed since the passive copy left to copy, and restarts
 * the log. With no busy wait on readers: a reader still on the log makes it give up and it is tried
 * again after the next copy.
 */
final class Checkpointer implements Runnable {
  private static final System.Logger LOG = System.getLogger(Checkpointer.class.getName());

  /** How often the log is copied while the writer commits (sooner after many commits). */
  static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  /**
   * Frames (pages of 4 KiB) in the log after which the writer restarts it: 16 MiB, well under
   * {@link Database}'s journal size limit.
   */
  static final int RESTART_FRAMES = 4_000;

  /** Commits after which the writer wakes this thread before the interval is up. */
  static final int WAKE_EVERY_COMMITS = 1_000;

  private static final long RESTART_WAIT_SECONDS = 60;

  private final Database database;
  private final Path file;
  private final LongSupplier commits;
  private final Supplier<CompletableFuture<Void>> restartLog;
  private final Thread thread;
  private volatile boolean stopped;

  // On this thread: its own connection, opened at the first copy (and again after a failure).
  private Connection connection;
  private boolean failing;

  /**
   * @param commits the writer's count of committed transactions
   * @param restartLog asks the writer to restart the log between two groups
   */
  Checkpointer(
      Database database, LongSupplier commits, Supplier<CompletableFuture<Void>> restartLog) {
    this.database = database;
    this.file = database.file();
    this.commits = commits;
    this.restartLog = restartLog;
    this.thread = new Thread(this, "herald-sqlite-checkpointer");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /**
   * Called by the writer after each commit, with its count of commits: a fast writer fills the log
   * faster than the interval assumes, so every {@link #WAKE_EVERY_COMMITS} it wakes this thread.
   */
  void committed(long commits) {
    if (commits % WAKE_EVERY_COMMITS == 0) {
      LockSupport.unpark(thread);
    }
  }

  /** Stops copying (its connection closes); the writer's last checkpoint runs after this. */
  void stop() {
    stopped = true;
    LockSupport.unpark(thread);
    try {
      thread.join(TimeUnit.SECONDS.toMillis(RESTART_WAIT_SECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void run() {
    long copied = commits.getAsLong();
    while (!stopped) {
      LockSupport.parkNanos(this, INTERVAL_NANOS);
      long committed = commits.getAsLong();
      if (stopped || committed == copied) {
        continue;
      }
      copied = committed;
      try {
        int frames = copyPassively();
        if (frames >= RESTART_FRAMES && !stopped) {
          awaitRestart();
        }
      } catch (RuntimeException | Error e) {
        // A bug must not end the copies for good: the log would grow without bound.
        LOG.log(System.Logger.Level.ERROR, "the checkpointer of " + file + " failed", e);
      }
    }
    Database.closeQuietly(connection);
  }

  /** Runs a passive checkpoint; returns the frames in the log, or -1 if it failed. */
  private int copyPassively() {
    try {
      if (connection == null) {
        connection = database.openCheckpointer();
      }
    } catch (SQLException e) {
      failed(e);
      return -1;
    }
    try (Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
      int frames = result.next() ? result.getInt(2) : -1;
      if (failing) {
        failing = false;
        LOG.log(System.Logger.Level.INFO, "checkpoints of " + file + " succeed again");
      }
      return frames;
    } catch (SQLException e) {
      failed(e);
      Database.closeQuietly(connection);
      connection = null;
      return -1;
    }
  }

  private void failed(SQLException e) {
    if (!failing) {
      failing = true;
      // The writer is unaffected; the log grows until a checkpoint succeeds.
      LOG.log(System.Logger.Level.WARNING, "could not checkpoint " + file, e);
    }
  }

  private void awaitRestart() {
    try {
      restartLog.get().get(RESTART_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopped = true;
    } catch (ExecutionException | TimeoutException e) {
      // The writer says why it failed (or is stopping): copy again next time.
      LOG.log(System.Logger.Level.DEBUG, "the writer did not restart the log of " + file, e);
    }
  }
}
