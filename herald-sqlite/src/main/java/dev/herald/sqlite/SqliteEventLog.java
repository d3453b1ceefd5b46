package dev.herald.sqlite;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * A durable {@link EventLog} in one SQLite file: the hub's embedded default store.
 *
 * <pre>{@code
 * SqliteEventLog log = SqliteEventLog.builder()
 *     .path(Path.of("herald-data", "events.db"))
 *     .retention(new Retention(1000, Duration.ofHours(24)))
 *     .build();
 * Broker broker = Broker.builder().log(log).build();
 * }</pre>
 *
 * <p>How it works: the file is in WAL mode and has exactly one writer, a thread that takes every
 * append queued while it was busy and stores them in one transaction (group commit), so a burst of
 * publishes costs one commit rather than one each. A publish completes only after its transaction
 * has committed; the events are announced to the {@link EventLog.Listener} in id order before the
 * futures complete, and the futures complete on a second thread, so what callers chain on them
 * never delays the next commit. Reads use a small pool of separate connections and never wait for
 * the writer.
 *
 * <p>Ids come from one sequence per file, stored with the events in the same transaction, so they
 * are never reused — not after a crash, and not after retention deleted every event. As in the
 * memory log, ids never fall behind the clock in microseconds, and every id below the file's
 * creation time counts as dropped: a client holding an id from a store whose file was lost gets a
 * {@code reset}, never a silent gap, and a file restored from an older copy never hands out an id a
 * second time.
 *
 * <p>Retention is per topic: at most {@link Retention#maxCount()} events (enforced in the same
 * transaction as the append that overflows the topic) and none older than {@link
 * Retention#maxAge()} (never read once past its age, and deleted by the writer thread at least
 * every 30 seconds in short transactions that never hold the write lock long).
 *
 * <p>A file can be open by one {@code SqliteEventLog} at a time; a second one, in this process or
 * another, fails to build with {@link StoreUnavailableException}.
 */
public final class SqliteEventLog implements EventLog {
  private static final System.Logger LOG = System.getLogger(SqliteEventLog.class.getName());

  private final Path path;
  private final WriteLoop writer;
  private final ReadPool readers;
  private final FileChannel lockChannel;
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
  private volatile boolean closed;

  private SqliteEventLog(Path path, WriteLoop writer, ReadPool readers, FileChannel lockChannel) {
    this.path = path;
    this.writer = writer;
    this.readers = readers;
    this.lockChannel = lockChannel;
  }

  /** Returns a builder; {@link Builder#path} is required, everything else has a default. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * {@inheritDoc}
   *
   * <p>It is called on the writer thread, after each group commit.
   *
   * @throws IllegalStateException if the log already has a listener
   */
  @Override
  public void listener(Listener listener) {
    writer.listener(Objects.requireNonNull(listener, "listener"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Completes once the batch's transaction has committed (see {@link Builder#fsync} for what
   * that survives); exceptionally with {@link StoreUnavailableException} if the file cannot be
   * written or the log is closed, and then nothing of the batch was stored.
   */
  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    List<Publication> copy = List.copyOf(batch);
    if (copy.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    Append append = Append.of(copy);
    submitUnlessClosed(append.future(), () -> writer.submit(append));
    return append.future();
  }

  /**
   * Hands work to the writer, or fails {@code future} if the log is closed. The read lock makes
   * "not closed, so enqueue" atomic against close(), which enqueues the writer's stop after every
   * task it let through: nothing is left behind unanswered. {@code submit} returns what answers the
   * work if the writer did it at once on this thread ({@link WriteLoop#submit}); it runs after the
   * lock is released, so that what callers chain on the answer (even a close()) runs outside it.
   */
  private void submitUnlessClosed(CompletableFuture<?> future, Supplier<Runnable> submit) {
    Runnable answer = WriteLoop.NOTHING_TO_ANSWER;
    ReentrantReadWriteLock.ReadLock lock = closeLock.readLock();
    lock.lock();
    try {
      if (closed) {
        future.completeExceptionally(closed(path));
      } else {
        answer = submit.get();
      }
    } finally {
      lock.unlock();
    }
    answer.run();
  }

  /**
   * {@inheritDoc}
   *
   * <p>The key is looked up and remembered (table {@code idempotency_keys}) in the transaction that
   * stores the events, on the one writer thread, so identical requests racing store once; the
   * retention job deletes keys past their window.
   */
  @Override
  public CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    List<Publication> copy = List.copyOf(batch);
    Objects.requireNonNull(key, "key");
    if (copy.isEmpty()) {
      return CompletableFuture.completedFuture(new AppendReceipt(List.of(), false));
    }
    Append append = Append.keyed(copy, key);
    submitUnlessClosed(append.future(), () -> writer.submit(append));
    return append.keyed();
  }

  /**
   * {@inheritDoc}
   *
   * <p>Written in one transaction by the writer thread, between appends; the retention job deletes
   * cursors not saved within the retention age.
   */
  @Override
  public CompletableFuture<Void> saveCursors(Map<CursorKey, Long> cursors) {
    Map<CursorKey, Long> copy = Map.copyOf(cursors);
    CompletableFuture<Void> done = new CompletableFuture<>();
    submitUnlessClosed(
        done,
        () -> {
          writer.saveCursors(copy, done);
          return WriteLoop.NOTHING_TO_ANSWER;
        });
    return done;
  }

  @Override
  public Optional<Long> cursor(CursorKey key) {
    Objects.requireNonNull(key, "key");
    long cursor = read(reader -> reader.cursor(key));
    return cursor > 0 ? Optional.of(cursor) : Optional.empty();
  }

  @Override
  public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
    Objects.requireNonNull(topics, "topics");
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1: " + limit);
    }
    if (topics.isEmpty()) {
      return List.of();
    }
    return read(reader -> reader.readAfter(topics, Math.max(0, afterId), limit));
  }

  @Override
  public long lastId() {
    return writer.lastId();
  }

  @Override
  public long droppedThrough(Set<String> topics) {
    Objects.requireNonNull(topics, "topics");
    if (topics.isEmpty()) {
      return 0;
    }
    return read(reader -> reader.droppedThrough(topics));
  }

  /**
   * {@inheritDoc}
   *
   * <p>False once a write or read has failed, until a later write succeeds; while false, each call
   * (at most one at a time) asks the writer to try a small write, so the answer recovers by itself
   * once the file works again. False after {@link #close}.
   */
  @Override
  public boolean isAvailable() {
    if (closed) {
      return false;
    }
    return writer.isAvailable();
  }

  /**
   * Stores every append already submitted, checkpoints the write-ahead log into the database file,
   * and releases the file. Appends after this fail with {@link StoreUnavailableException}.
   * Idempotent.
   */
  @Override
  public void close() {
    ReentrantReadWriteLock.WriteLock lock = closeLock.writeLock();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
    } finally {
      lock.unlock();
    }
    writer.stop();
    readers.close();
    try {
      lockChannel.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "could not release the lock on " + path, e);
    }
    LOG.log(System.Logger.Level.INFO, "closed SQLite event log {0}", path);
  }

  @Override
  public String toString() {
    return "SqliteEventLog{" + path + "}";
  }

  /** Times the writer restarted the write-ahead log (see {@code Checkpointer}), for its tests. */
  long logRestartCount() {
    return writer.logRestartCount();
  }

  /** Commits, counted for tests of group commit: fewer than appends when batches were grouped. */
  long transactionCount() {
    return writer.transactionCount();
  }

  /** Whether the writer takes inline commits now (see {@link WriteLoop}); for tests. */
  boolean commitsInline() {
    return writer.commitsInline();
  }

  /** Runs the retention job now (tests); completes with the number of events it deleted. */
  CompletableFuture<Integer> runRetention() {
    return writer.runRetention();
  }

  /** Runs a small write on the writer thread; completes with whether it worked (tests). */
  CompletableFuture<Boolean> probe() {
    return writer.probe();
  }

  /** EXPLAIN QUERY PLAN of the page query for {@code topicCount} topics (tests). */
  String readPlan(int topicCount) {
    return read(reader -> reader.explainReadPlan(topicCount));
  }

  /** What every use of a closed log fails with. */
  static StoreUnavailableException closed(Path file) {
    return new StoreUnavailableException("the SQLite event log " + file + " is closed");
  }

  private <T> T read(ReadPool.ReadFunction<T> function) {
    if (closed) {
      throw closed(path);
    }
    try {
      return readers.read(function);
    } catch (StoreUnavailableException e) {
      writer.markUnavailable();
      throw e;
    }
  }

  /**
   * Configures a {@link SqliteEventLog}. Defaults: {@link Retention#DEFAULT}, {@code fsync} off,
   * the system UTC clock.
   */
  public static final class Builder {
    private Path path;
    private Retention retention = Retention.DEFAULT;
    private boolean fsync;
    private Clock clock = Clock.systemUTC();
    private Duration busyTimeout = Duration.ofSeconds(5);
    private Duration retentionInterval = Duration.ofSeconds(30);
    private int readConnections = 4;
    private int maxValueBytes;

    private Builder() {}

    /**
     * The database file (required). Missing parent directories are created; a missing file is
     * created with the current schema, an existing one is migrated to it.
     */
    public Builder path(Path path) {
      this.path = Objects.requireNonNull(path, "path");
      return this;
    }

    /** How much history each topic keeps; {@link Retention#DEFAULT} unless set. */
    public Builder retention(Retention retention) {
      this.retention = Objects.requireNonNull(retention, "retention");
      return this;
    }

    /**
     * Whether a commit waits for the disk ({@code false} unless set).
     *
     * <p>{@code false}: {@code synchronous=NORMAL} in WAL mode. A committed event is in the
     * write-ahead log in the operating system's cache before its publish completes, so it survives
     * the process crashing or being killed. The log is synced to disk at checkpoints only (a thread
     * of their own copies it into the file every 200 ms while appends come in, see {@code
     * Checkpointer}), so a power loss or kernel crash may lose the commits since the last one — but
     * never corrupts the file.
     *
     * <p>{@code true}: {@code synchronous=FULL}. Every commit is synced to disk before its publish
     * completes, so acknowledged events also survive power loss; each group commit then costs one
     * disk sync.
     */
    public Builder fsync(boolean fsync) {
      this.fsync = fsync;
      return this;
    }

    /** The clock for event timestamps and retention by age; the system UTC clock unless set. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How long a statement waits for a lock held by another connection (tests shorten it). */
    Builder busyTimeout(Duration busyTimeout) {
      this.busyTimeout = Objects.requireNonNull(busyTimeout, "busyTimeout");
      return this;
    }

    /** How often the retention job runs. */
    Builder retentionInterval(Duration retentionInterval) {
      if (retentionInterval.isNegative() || retentionInterval.isZero()) {
        throw new IllegalArgumentException("retentionInterval must be positive");
      }
      this.retentionInterval = retentionInterval;
      return this;
    }

    /** The longest string the writer stores (tests make appends fail with it). */
    Builder maxValueBytes(int maxValueBytes) {
      this.maxValueBytes = maxValueBytes;
      return this;
    }

    /** How many connections serve reads at once. */
    Builder readConnections(int readConnections) {
      if (readConnections < 1) {
        throw new IllegalArgumentException("readConnections must be at least 1");
      }
      this.readConnections = readConnections;
      return this;
    }

    /**
     * Opens the file, creating or migrating its schema and applying the count limit to history
     * stored under a larger one.
     *
     * @throws IllegalStateException if no path was set
     * @throws StoreUnavailableException if the file cannot be created, opened or written, is not a
     *     Herald event store, or is open by another {@code SqliteEventLog}
     */
    public SqliteEventLog build() {
      if (path == null) {
        throw new IllegalStateException("path is required");
      }
      Path file = path.toAbsolutePath().normalize();
      Database database = new Database(file, fsync, busyTimeout, maxValueBytes);
      FileChannel lock = lock(file);
      Connection connection = null;
      try {
        connection = database.openWriter();
        Schema.State state = Schema.open(connection, clock);
        AgeLimit ageLimit = new AgeLimit(clock, retention.maxAge());
        WriteLoop writer =
            new WriteLoop(
                database,
                connection,
                state,
                retention.maxCount(),
                clock,
                ageLimit,
                retentionInterval.toNanos());
        writer.enforceCountLimit();
        ReadPool readers =
            new ReadPool(database, readConnections, busyTimeout, ageLimit, state.floor());
        writer.start();
        LOG.log(
            System.Logger.Level.INFO,
            "opened SQLite event log {0} (last id {1}, fsync {2})",
            file,
            state.lastId(),
            fsync);
        return new SqliteEventLog(file, writer, readers, lock);
      } catch (SQLException | RuntimeException e) {
        Database.closeQuietly(connection);
        try {
          lock.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
        if (e instanceof StoreUnavailableException sue) {
          throw sue;
        }
        throw new StoreUnavailableException(
            "cannot open the SQLite event log " + file + ": " + e.getMessage(), e);
      }
    }

    /**
     * Locks {@code <file>.lock}: one writer per file keeps the id sequence and the listener exact.
     * The operating system releases the lock when the process dies.
     */
    private static FileChannel lock(Path file) {
      Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
      FileChannel channel = null;
      try {
        Path parent = file.getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
        channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = tryLock(channel);
        if (lock == null) {
          throw new StoreUnavailableException(
              "the SQLite event log "
                  + file
                  + " is already open in another SqliteEventLog (lock "
                  + lockFile
                  + ")");
        }
        return channel;
      } catch (IOException e) {
        closeQuietly(channel);
        throw new StoreUnavailableException(
            "cannot create the SQLite event log " + file + ": " + e, e);
      } catch (RuntimeException e) {
        closeQuietly(channel);
        throw e;
      }
    }

    private static FileLock tryLock(FileChannel channel) throws IOException {
      try {
        return channel.tryLock();
      } catch (OverlappingFileLockException e) {
        // Held by another channel of this JVM.
        return null;
      }
    }

    private static void closeQuietly(FileChannel channel) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException e) {
          LOG.log(System.Logger.Level.DEBUG, "closing the lock file failed", e);
        }
      }
    }
  }
}
