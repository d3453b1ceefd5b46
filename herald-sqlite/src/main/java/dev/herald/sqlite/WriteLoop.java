package dev.herald.sqlite;

import dev.herald.core.internal.DaemonThreads;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes the file: one writer thread, and publishers that find it idle. The thread takes every
 * append queued while it was busy (up to {@link #MAX_GROUP} events), stores them in one {@link
 * GroupTransaction}, then announces them to the listener in id order and only then hands their
 * futures to the completer thread. Between groups it saves device cursors, probes the file when
 * asked, restarts the write-ahead log when its {@link Checkpointer} asks, and runs the {@link
 * RetentionJob} one short transaction at a time, so deleting a large backlog never holds the write
 * lock for long.
 *
 * <p><b>Inline commits.</b> An append that arrives while no append is queued and nobody writes is
 * committed and announced on the publishing thread itself ({@link #submit}): at a moderate rate
 * most appends come alone, and the hand-offs to the writer thread and back (two thread wake-ups,
 * each a chance to wait for a scheduler slice on a busy machine) cost more than the commit. Under
 * load the queue is rarely empty and the writer's group commit takes over. Only commits that do not
 * sync the file go inline, and none for a second after a commit took more than {@link
 * #INLINE_SLOW_NANOS}: a publishing thread may be an event loop serving other connections.
 *
 * <p>Everything here except the queue, {@link #lastId}, the health flags and the inline pause is
 * guarded by {@link #writing}; the retention job's schedule is the writer thread's alone.
 */
final class WriteLoop implements Runnable {
  private static final System.Logger LOG = System.getLogger(WriteLoop.class.getName());

  /** The most events in one group commit: bounds a transaction's time and the WAL growth. */
  static final int MAX_GROUP = 2000;

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

  /** A commit slower than this (a busy disk, a lock held elsewhere) pauses inline commits. */
  static final long INLINE_SLOW_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private static final long INLINE_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** What {@link #submit} returns for an append it queued: the completer answers it later. */
  static final Runnable NOTHING_TO_ANSWER = () -> {};

  /** Work for the writer thread: an {@link Append} or one of the records below. */
  interface Task {}

  private record Retain(CompletableFuture<Integer> done) implements Task {}

  private record SaveCursors(Map<CursorKey, Long> cursors, CompletableFuture<Void> done)
      implements Task {}

  private record Probe(CompletableFuture<Boolean> done) implements Task {}

  private record Stop(CompletableFuture<Void> done) implements Task {}

  private record RestartLog(CompletableFuture<Void> done) implements Task {}

  private final WriterConnection writer;
  private final Path file;
  private final Clock clock;
  private final RetentionJob retention;
  private final GroupTransaction groupTransaction;
  private final Checkpointer checkpointer;
  private final BlockingQueue<Task> queue = new LinkedBlockingQueue<>();
  private final Thread thread;

  /**
   * Held while the connection is in use: by the writer thread for each task, by a publisher for its
   * inline commit. Announcing happens under it too, so the listener hears groups in id order.
   */
  private final ReentrantLock writing = new ReentrantLock();

  /** Whether appends may commit on the publishing thread: only if commits do not sync. */
  private final boolean commitsInline;

  /**
   * Appends queued or in the writer thread's group until it has committed them. Only while there
   * are none does an append commit inline, so one publisher's appends never overtake each other.
   */
  private final AtomicInteger queuedAppends = new AtomicInteger();

  /**
   * Whether the writer thread has finished the retention run it does at start-up (the file may hold
   * events that aged while it was closed): until then every append is queued, so that run comes
   * before any append, as it did before inline commits.
   */
  private volatile boolean startUpRunDone;

  /** {@link System#nanoTime} before which no append commits inline (after a slow commit). */
  private volatile long inlinePausedUntil;

  /**
   * Completes the appends of committed groups, in commit order, off the writer thread: what callers
   * chain on an append (a hub answers the HTTP request there) would otherwise delay the next
   * group's commit. Announcing stays on the writer, before the hand-over.
   */
  private final ExecutorService completer =
      Executors.newSingleThreadExecutor(DaemonThreads.named("herald-sqlite-completer"));

  private final AtomicLong transactions = new AtomicLong();
  private final AtomicLong logRestarts = new AtomicLong();
  private final AtomicBoolean probing = new AtomicBoolean();

  private final PreparedStatement saveCursor;
  private final PreparedStatement touchMeta;

  private volatile EventLog.Listener listener;
  private volatile long lastId;
  private volatile boolean available = true;
  private volatile boolean stopped;

  // Writer-thread state.
  private long lastCreatedMs;

  WriteLoop(
      Database database,
      Connection connection,
      Schema.State state,
      int maxCount,
      Clock clock,
      AgeLimit ageLimit,
      long retentionIntervalNanos)
      throws SQLException {
    this.file = database.file();
    this.commitsInline = !database.fsync();
    // nanoTime's origin is arbitrary (it may be negative): not paused means "until now".
    this.inlinePausedUntil = System.nanoTime();
    this.writer = new WriterConnection(file, database.busyTimeoutMillis(), connection);
    this.checkpointer = new Checkpointer(database, transactions::get, this::restartLog);
    this.clock = clock;
    RetainedCounts counts = new RetainedCounts(writer, RetainedCounts.CAPACITY);
    this.retention =
        new RetentionJob(
            writer,
            counts,
            maxCount,
            clock,
            ageLimit,
            retentionIntervalNanos,
            this::markUnavailable);
    this.groupTransaction = new GroupTransaction(writer, retention, counts);
    this.lastId = state.lastId();
    this.lastCreatedMs = state.lastCreatedMs();
    saveCursor =
        writer.prepare(
            "INSERT OR REPLACE INTO device_cursors (device, topics, cursor, saved_ms)"
                + " VALUES (?, ?, ?, ?)");
    // The smallest write: it needs the write lock and changes nothing.
    touchMeta = writer.prepare("UPDATE meta SET value = value WHERE key = 'last_id'");
    thread = new Thread(this, "herald-sqlite-writer");
    thread.setDaemon(true);
  }

  /** Applies the count limit to history stored under a larger one (before {@link #start}). */
  void enforceCountLimit() throws SQLException {
    retention.enforceCountLimit();
  }

  void start() {
    thread.start();
    checkpointer.start();
  }

  synchronized void listener(EventLog.Listener listener) {
    if (this.listener != null) {
      throw new IllegalStateException("the log already has a listener");
    }
    this.listener = listener;
  }

  long lastId() {
    return lastId;
  }

  long logRestartCount() {
    return logRestarts.get();
  }

  long transactionCount() {
    return transactions.get();
  }

  /** Whether an append that finds the writer idle would commit inline now. */
  boolean commitsInline() {
    return commitsInline && startUpRunDone && System.nanoTime() - inlinePausedUntil >= 0;
  }

  /**
   * Takes an append: commits and announces it at once on this thread when the writer is idle (see
   * the class comment), else queues it for the writer thread.
   *
   * @return what answers the append if it was committed here, to run once the caller holds no lock
   *     (what callers chain on the answer runs there); {@link #NOTHING_TO_ANSWER} if it was queued
   */
  Runnable submit(Append append) {
    if (commitsInline()
        && queuedAppends.get() == 0
        && !stopped
        && !writing.isHeldByCurrentThread() // a listener publishing: queue it
        && writing.tryLock()) {
      try {
        if (!stopped) {
          return commitGroup(List.of(append));
        }
      } finally {
        writing.unlock();
      }
    }
    queuedAppends.incrementAndGet();
    queue.add(append);
    return NOTHING_TO_ANSWER;
  }

  void saveCursors(Map<CursorKey, Long> cursors, CompletableFuture<Void> done) {
    enqueue(new SaveCursors(cursors, done), done);
  }

  CompletableFuture<Integer> runRetention() {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    enqueue(new Retain(done), done);
    return done;
  }

  /**
   * Asks the writer to restart the write-ahead log between two groups (see {@link Checkpointer}).
   */
  CompletableFuture<Void> restartLog() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    enqueue(new RestartLog(done), done);
    return done;
  }

  CompletableFuture<Boolean> probe() {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    enqueue(new Probe(done), done);
    return done;
  }

  boolean isAvailable() {
    boolean ok = available && !stopped;
    if (!ok && !stopped && probing.compareAndSet(false, true)) {
      probe().whenComplete((result, error) -> probing.set(false));
    }
    return ok;
  }

  void markUnavailable() {
    available = false;
  }

  /** Stores what is queued, checkpoints, closes the connection; waits for all that, bounded. */
  void stop() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    queue.add(new Stop(done));
    try {
      done.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      thread.join(STOP_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.log(System.Logger.Level.WARNING, "the writer of " + file + " did not stop in time", e);
    }
  }

  private <T> void enqueue(Task task, CompletableFuture<T> done) {
    if (stopped) {
      done.completeExceptionally(writer.closed());
      return;
    }
    queue.add(task);
    if (stopped) {
      // Raced with the writer's last drain: answer whatever it left behind.
      failLeftovers();
    }
  }

  @Override
  public void run() {
    List<Append> group = new ArrayList<>();
    while (true) {
      try {
        Task task = next();
        writing.lock();
        try {
          if (task == null) {
            retention.step(lastId);
            noteStartUpRun();
            continue;
          }
          if (task instanceof Append first) {
            group.add(first);
            int size = first.batch().size();
            Task peeked;
            while (size < MAX_GROUP
                && (peeked = queue.peek()) instanceof Append more
                && size + more.batch().size() <= MAX_GROUP) {
              queue.poll();
              group.add(more);
              size += more.batch().size();
            }
            Runnable answer = commitGroup(group);
            // Before the answers: a publisher answered must find its appends no longer queued.
            queuedAppends.addAndGet(-group.size());
            group.clear();
            completer.execute(answer);
          } else if (task instanceof Retain retain) {
            retention.request(retain.done());
          } else if (task instanceof Probe probe) {
            probe.done().complete(probeWrite());
          } else if (task instanceof RestartLog restart) {
            restartLog(restart);
          } else if (task instanceof SaveCursors save) {
            writeCursors(save);
          } else if (task instanceof Stop stop) {
            shutDown();
            stop.done().complete(null);
            return;
          }
          if (retention.running()) {
            retention.step(lastId);
          }
          noteStartUpRun();
        } finally {
          writing.unlock();
        }
      } catch (InterruptedException e) {
        // Nothing interrupts this thread on purpose; keep serving the queue.
        LOG.log(System.Logger.Level.DEBUG, "writer interrupted; continuing");
      } catch (RuntimeException | Error e) {
        // A bug must not strand every later publish: fail what was in hand and carry on.
        LOG.log(System.Logger.Level.ERROR, "the writer of " + file + " failed", e);
        for (Append append : group) {
          append.future().completeExceptionally(writer.unavailable("internal error", e));
        }
        queuedAppends.addAndGet(-group.size());
        group.clear();
      }
    }
  }

  private void noteStartUpRun() {
    if (!startUpRunDone && !retention.running()) {
      startUpRunDone = true;
    }
  }

  /** The next task, or null when a step of the retention job is due instead. */
  private Task next() throws InterruptedException {
    while (true) {
      long wait = retention.nanosUntilDue();
      Task task = wait == 0 ? queue.poll() : queue.poll(wait, TimeUnit.NANOSECONDS);
      if (task != null || retention.nanosUntilDue() == 0) {
        return task;
      }
    }
  }

  // ---- group commit ----

  /**
   * Stores a group in one transaction and announces it, holding {@link #writing}.
   *
   * @return what answers the group's appends: to run without holding any lock, in commit order
   */
  private Runnable commitGroup(List<Append> group) {
    Instant now = clock.instant();
    // Timestamps never go backwards, so the events past their age are always an id prefix; ids
    // never fall behind the clock, so a file restored from a backup cannot hand out ids again.
    long createdMs = Math.max(now.toEpochMilli(), lastCreatedMs);
    long firstId = Math.max(lastId, Schema.micros(now) - 1);
    GroupWrite write;
    long started = System.nanoTime();
    try {
      write = groupTransaction.commit(group, now, createdMs, firstId);
    } catch (SQLException | RuntimeException e) {
      return failAll(group, e);
    } finally {
      long ended = System.nanoTime();
      if (ended - started > INLINE_SLOW_NANOS) {
        inlinePausedUntil = ended + INLINE_PAUSE_NANOS;
      }
    }
    if (write.stored.isEmpty()) {
      return write::answerReplays;
    }
    lastId = write.nextId;
    lastCreatedMs = createdMs;
    checkpointer.committed(transactions.incrementAndGet());
    available = true;
    announce(write);
    return write::complete;
  }

  private void announce(GroupWrite write) {
    EventLog.Listener l = listener;
    if (l == null) {
      return;
    }
    try {
      l.onAppended(write.events());
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "the event log listener failed", e);
    }
  }

  private Runnable failAll(List<Append> group, Exception cause) {
    available = false;
    LOG.log(System.Logger.Level.WARNING, "could not commit appends to " + file, cause);
    StoreUnavailableException error = writer.unavailable("could not store the events", cause);
    // A group that failed as a whole stored none of its appends (GroupTransaction rolled back).
    List<Append> failed = List.copyOf(group);
    return () -> failed.forEach(append -> append.future().completeExceptionally(error));
  }

  // ---- device cursors ----

  private void writeCursors(SaveCursors save) {
    try {
      writer.inTransaction(
          () -> {
            long now = clock.millis();
            for (Map.Entry<CursorKey, Long> cursor : save.cursors().entrySet()) {
              saveCursor.setString(1, cursor.getKey().deviceId());
              saveCursor.setString(2, cursor.getKey().topicsText());
              saveCursor.setLong(3, cursor.getValue());
              saveCursor.setLong(4, now);
              saveCursor.executeUpdate();
            }
            return null;
          });
      save.done().complete(null);
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors in " + file, e);
      save.done().completeExceptionally(writer.unavailable("could not save device cursors", e));
    }
  }

  // ---- the write-ahead log ----

  private void restartLog(RestartLog restart) {
    try {
      if (writer.restartLog()) {
        logRestarts.incrementAndGet();
      } else {
        LOG.log(System.Logger.Level.DEBUG, "a reader kept the log of " + file + " from restarting");
      }
      restart.done().complete(null);
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "could not restart the log of " + file, e);
      restart.done().completeExceptionally(e);
    }
  }

  // ---- health and shutdown ----

  private boolean probeWrite() {
    try {
      writer.inTransaction(touchMeta::executeUpdate);
      available = true;
      return true;
    } catch (SQLException e) {
      available = false;
      LOG.log(System.Logger.Level.DEBUG, "probe write failed on " + file, e);
      return false;
    }
  }

  private void shutDown() {
    stopped = true;
    // The checkpointer stops before the connection's last checkpoint; a restart it waits for is
    // answered first (failLeftovers), or it would wait for this thread.
    failLeftovers();
    checkpointer.stop();
    completer.shutdown();
    try {
      // Every committed append is answered before close() returns.
      if (!completer.awaitTermination(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.log(System.Logger.Level.WARNING, "appends to " + file + " not answered in time");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    failLeftovers();
    retention.abandon(writer.closed());
    writer.close();
  }

  /** Answers tasks queued after the stop (only possible for probes and retention requests). */
  private void failLeftovers() {
    Task task;
    while ((task = queue.poll()) != null) {
      if (task instanceof Append append) {
        queuedAppends.decrementAndGet();
        append.future().completeExceptionally(writer.closed());
      } else if (task instanceof Retain retain) {
        retain.done().completeExceptionally(writer.closed());
      } else if (task instanceof Probe probe) {
        probe.done().complete(false);
      } else if (task instanceof SaveCursors save) {
        save.done().completeExceptionally(writer.closed());
      } else if (task instanceof Stop stop) {
        stop.done().complete(null);
      } else if (task instanceof RestartLog restart) {
        restart.done().completeExceptionally(writer.closed());
      }
    }
  }
}
