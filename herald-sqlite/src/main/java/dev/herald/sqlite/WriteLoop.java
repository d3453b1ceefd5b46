package dev.herald.sqlite;

import dev.herald.core.Event;
import dev.herald.server.Appended;
import dev.herald.server.CursorKey;
import dev.herald.server.EventLog;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one thread that writes the file. It takes every append queued while it was busy (up to {@link
 * #MAX_GROUP} events), stores them in one transaction, commits, then announces them to the listener
 * in id order and only then hands their futures to the completer thread. Between groups it runs the
 * retention job in short transactions, so deleting a large backlog never holds the write lock for
 * long.
 *
 * <p>Everything here except the queue, {@link #lastId} and the health flag is confined to the
 * writer thread.
 */
final class WriteLoop implements Runnable {
  private static final System.Logger LOG = System.getLogger(WriteLoop.class.getName());

  /** The most events in one group commit: bounds a transaction's time and the WAL growth. */
  static final int MAX_GROUP = 2000;

  /** The most events one retention transaction deletes. */
  static final int RETENTION_BATCH = 500;

  /** Topics per transaction when applying a lowered count limit at start-up. */
  private static final int TRIM_TOPICS_BATCH = 100;

  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

  private interface Task {}

  /** An append; {@code key} and {@code keyed} are both null unless it is idempotent. */
  private record Append(
      List<Publication> batch,
      CompletableFuture<List<StoredEvent>> future,
      IdempotencyKey key,
      CompletableFuture<Appended> keyed)
      implements Task {}

  /** An idempotent append whose key was known: answered with its ids after the commit. */
  private record Replay(Append append, List<Long> ids) {}

  private record Retain(CompletableFuture<Integer> done) implements Task {}

  private record SaveCursors(Map<CursorKey, Long> cursors, CompletableFuture<Void> done)
      implements Task {}

  private record Probe(CompletableFuture<Boolean> done) implements Task {}

  private record Stop(CompletableFuture<Void> done) implements Task {}

  /** One append of a group, stored under a savepoint, waiting for the commit. */
  private record Stored(Append append, List<StoredEvent> events) {}

  private final Path file;
  private final Connection connection;
  private final Statement statement;
  private final int maxCount;
  private final Clock clock;
  private final AgeLimit ageLimit;
  private final long retentionIntervalNanos;
  private final BlockingQueue<Task> queue = new LinkedBlockingQueue<>();
  private final Thread thread;

  /**
   * Completes the appends of committed groups, in commit order, off the writer thread: what callers
   * chain on an append (a hub answers the HTTP request there) would otherwise delay the next
   * group's commit. Announcing stays on the writer, before the hand-over.
   */
  private final ExecutorService completer =
      Executors.newSingleThreadExecutor(
          task -> {
            Thread t = new Thread(task, "herald-sqlite-completer");
            t.setDaemon(true);
            return t;
          });

  private final AtomicLong transactions = new AtomicLong();
  private final AtomicBoolean probing = new AtomicBoolean();

  // Transaction control, compiled once: the savepoints ran once per append of a group.
  private final PreparedStatement begin;
  private final PreparedStatement commit;
  private final PreparedStatement rollback;
  private final PreparedStatement savepoint;
  private final PreparedStatement release;
  private final PreparedStatement rollbackToSavepoint;

  private final PreparedStatement insertEvent;
  private final PreparedStatement insertEventTopic;
  private final PreparedStatement addRetained;
  private final PreparedStatement oldestInTopic;
  private final PreparedStatement deleteTopicThrough;
  private final PreparedStatement recordDropped;
  private final PreparedStatement recountTopic;
  private final PreparedStatement topicsOfEvent;
  private final PreparedStatement topicHasEvent;
  private final PreparedStatement deleteEvent;
  private final PreparedStatement deleteSingleTopicEvent;
  private final PreparedStatement deleteEventTopic;
  private final PreparedStatement agedEvents;
  private final PreparedStatement setLastId;
  private final PreparedStatement overfullTopics;
  private final PreparedStatement findKey;
  private final PreparedStatement rememberKey;
  private final PreparedStatement forgetKeys;
  private final PreparedStatement saveCursor;
  private final PreparedStatement forgetCursors;

  private volatile EventLog.Listener listener;
  private volatile long lastId;
  private volatile boolean available = true;
  private volatile boolean stopped;

  // Writer-thread state.
  private long lastCreatedMs;
  private boolean retentionDue;
  private long nextRetentionNanos;
  private int retentionDeleted;
  private final List<CompletableFuture<Integer>> retentionWaiters = new ArrayList<>();

  WriteLoop(
      Path file,
      Connection connection,
      Schema.State state,
      int maxCount,
      Clock clock,
      AgeLimit ageLimit,
      long retentionIntervalNanos)
      throws SQLException {
    this.file = file;
    this.connection = connection;
    this.statement = connection.createStatement();
    this.maxCount = maxCount;
    this.clock = clock;
    this.ageLimit = ageLimit;
    this.retentionIntervalNanos = retentionIntervalNanos;
    this.lastId = state.lastId();
    this.lastCreatedMs = state.lastCreatedMs();
    begin = connection.prepareStatement("BEGIN IMMEDIATE");
    commit = connection.prepareStatement("COMMIT");
    rollback = connection.prepareStatement("ROLLBACK");
    savepoint = connection.prepareStatement("SAVEPOINT append");
    release = connection.prepareStatement("RELEASE append");
    rollbackToSavepoint = connection.prepareStatement("ROLLBACK TO append");
    insertEvent =
        connection.prepareStatement(
            "INSERT INTO events (id, type, data, retry_ms, created_ms, topics)"
                + " VALUES (?, ?, ?, ?, ?, ?)");
    insertEventTopic = connection.prepareStatement("INSERT INTO event_topics VALUES (?, ?)");
    addRetained =
        connection.prepareStatement(
            "INSERT INTO topics (topic, retained, dropped_through) VALUES (?, ?, 0)"
                + " ON CONFLICT (topic) DO UPDATE SET retained = retained + excluded.retained"
                + " RETURNING retained");
    oldestInTopic =
        connection.prepareStatement(
            "SELECT id FROM event_topics WHERE topic = ? ORDER BY id LIMIT ?");
    deleteTopicThrough =
        connection.prepareStatement("DELETE FROM event_topics WHERE topic = ? AND id <= ?");
    recordDropped =
        connection.prepareStatement(
            "UPDATE topics SET retained = retained - ?,"
                + " dropped_through = max(dropped_through, ?) WHERE topic = ?");
    recountTopic =
        connection.prepareStatement(
            "UPDATE topics SET retained ="
                + " (SELECT count(*) FROM event_topics WHERE topic = topics.topic)"
                + " WHERE topic = ?");
    topicsOfEvent = connection.prepareStatement("SELECT topics FROM events WHERE id = ?");
    topicHasEvent =
        connection.prepareStatement("SELECT 1 FROM event_topics WHERE topic = ? AND id = ?");
    deleteEvent = connection.prepareStatement("DELETE FROM events WHERE id = ?");
    // An event of one topic, dropped from that topic, belongs to no topic any more.
    deleteSingleTopicEvent =
        connection.prepareStatement("DELETE FROM events WHERE id = ? AND topics = ?");
    deleteEventTopic =
        connection.prepareStatement("DELETE FROM event_topics WHERE topic = ? AND id = ?");
    agedEvents =
        connection.prepareStatement(
            "SELECT id, topics FROM events WHERE created_ms <= ? ORDER BY created_ms, id LIMIT ?");
    setLastId = connection.prepareStatement("UPDATE meta SET value = ? WHERE key = 'last_id'");
    overfullTopics =
        connection.prepareStatement(
            "SELECT topic, retained FROM topics WHERE retained > ? LIMIT " + TRIM_TOPICS_BATCH);
    findKey =
        connection.prepareStatement(
            "SELECT fingerprint, ids FROM idempotency_keys"
                + " WHERE scope = ? AND key = ? AND expires_ms > ?");
    rememberKey =
        connection.prepareStatement(
            "INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, ids, expires_ms)"
                + " VALUES (?, ?, ?, ?, ?)");
    forgetKeys = connection.prepareStatement("DELETE FROM idempotency_keys WHERE expires_ms <= ?");
    saveCursor =
        connection.prepareStatement(
            "INSERT OR REPLACE INTO device_cursors (device, topics, cursor, saved_ms)"
                + " VALUES (?, ?, ?, ?)");
    forgetCursors = connection.prepareStatement("DELETE FROM device_cursors WHERE saved_ms <= ?");
    thread = new Thread(this, "herald-sqlite-writer");
    thread.setDaemon(true);
  }

  /**
   * Applies the count limit to every topic (on the calling thread, before {@link #start}): a file
   * written under a larger limit holds more per topic than this one keeps.
   */
  void enforceCountLimit() throws SQLException {
    while (true) {
      Map<String, Long> overfull = new LinkedHashMap<>();
      overfullTopics.setLong(1, maxCount);
      try (ResultSet rows = overfullTopics.executeQuery()) {
        while (rows.next()) {
          overfull.put(rows.getString(1), rows.getLong(2));
        }
      }
      if (overfull.isEmpty()) {
        return;
      }
      begin.execute();
      try {
        Map<Long, String> dropped = new TreeMap<>();
        for (Map.Entry<String, Long> topic : overfull.entrySet()) {
          trimTopic(topic.getKey(), topic.getValue(), dropped);
        }
        deleteOrphans(dropped, Map.of());
        commit.execute();
      } catch (SQLException | RuntimeException e) {
        Schema.rollbackQuietly(statement, e);
        throw e;
      }
      LOG.log(
          System.Logger.Level.INFO,
          "applied the count limit {0} to {1} topics of {2}",
          maxCount,
          overfull.size(),
          file);
    }
  }

  void start() {
    nextRetentionNanos = System.nanoTime();
    retentionDue = true; // Run once at start: the file may hold events that aged while closed.
    thread.start();
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

  long transactionCount() {
    return transactions.get();
  }

  void submit(List<Publication> batch, CompletableFuture<List<StoredEvent>> future) {
    queue.add(new Append(batch, future, null, null));
  }

  /** An idempotent append: {@code future} must fail {@code keyed} when it fails. */
  void submit(
      List<Publication> batch,
      CompletableFuture<List<StoredEvent>> future,
      IdempotencyKey key,
      CompletableFuture<Appended> keyed) {
    queue.add(new Append(batch, future, key, keyed));
  }

  void saveCursors(Map<CursorKey, Long> cursors, CompletableFuture<Void> done) {
    enqueue(new SaveCursors(cursors, done), done);
  }

  CompletableFuture<Integer> runRetention() {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    enqueue(new Retain(done), done);
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
      done.completeExceptionally(closed());
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
        if (task == null) {
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
          appendGroup(group);
          group.clear();
        } else if (task instanceof Retain retain) {
          retentionDue = true;
          retentionWaiters.add(retain.done());
        } else if (task instanceof Probe probe) {
          probe.done().complete(probeWrite());
        } else if (task instanceof SaveCursors save) {
          writeCursors(save);
        } else if (task instanceof Stop stop) {
          shutDown();
          stop.done().complete(null);
          return;
        }
        if (retentionDue) {
          retentionStep();
        }
      } catch (InterruptedException e) {
        // Nothing interrupts this thread on purpose; keep serving the queue.
        LOG.log(System.Logger.Level.DEBUG, "writer interrupted; continuing");
      } catch (RuntimeException | Error e) {
        // A bug must not strand every later publish: fail what was in hand and carry on.
        LOG.log(System.Logger.Level.ERROR, "the writer of " + file + " failed", e);
        for (Append append : group) {
          append.future().completeExceptionally(unavailable("internal error", e));
        }
        group.clear();
      }
    }
  }

  /** The next task, or null when the retention job ran or became due instead. */
  private Task next() throws InterruptedException {
    long now = System.nanoTime();
    if (!retentionDue && now - nextRetentionNanos >= 0) {
      retentionDue = true;
    }
    if (retentionDue) {
      Task task = queue.poll();
      if (task == null) {
        retentionStep();
      }
      return task;
    }
    return queue.poll(nextRetentionNanos - now, TimeUnit.NANOSECONDS);
  }

  // ---- appends ----

  private void appendGroup(List<Append> group) {
    Instant now = clock.instant();
    // Timestamps never go backwards, so the events past their age are always an id prefix; ids
    // never fall behind the clock, so a file restored from a backup cannot hand out ids again.
    long createdMs = Math.max(now.toEpochMilli(), lastCreatedMs);
    long firstId = Math.max(lastId, Schema.micros(now) - 1);
    GroupWrite write;
    try {
      begin.execute();
      try {
        // No savepoints first: two statements per append saved. An append that cannot be stored
        // is rare (a value over the length limit, a full disk); then the group is stored again
        // with a savepoint per append, so that append fails alone.
        write = storeGroup(group, now, createdMs, firstId, false);
      } catch (SQLException e) {
        if (group.size() == 1) {
          throw e;
        }
        LOG.log(System.Logger.Level.DEBUG, "storing the group again append by append", e);
        Schema.rollbackQuietly(statement, e);
        begin.execute();
        write = storeGroup(group, now, createdMs, firstId, true);
      }
      if (write.stored.isEmpty()) {
        rollback.execute();
        for (Replay replay : write.replays) {
          replay.append().keyed().complete(new Appended(replay.ids(), true));
        }
        return;
      }
      // No meta write here: the newest event carries the newest id (count retention always keeps
      // the newest event of a topic), and the retention job records last_id before it deletes.
      commit.execute();
    } catch (SQLException | RuntimeException e) {
      Schema.rollbackQuietly(statement, e);
      failAll(group, e);
      return;
    }
    lastId = write.nextId;
    lastCreatedMs = createdMs;
    transactions.incrementAndGet();
    available = true;
    announce(write.stored);
    GroupWrite committed = write;
    completer.execute(() -> complete(committed));
  }

  /** Answers a committed group's appends (on the completer thread). */
  private static void complete(GroupWrite write) {
    for (Stored s : write.stored) {
      if (s.append().keyed() != null) {
        s.append().keyed().complete(new Appended(ids(s.events()), false));
      }
      s.append().future().complete(s.events());
    }
    for (Replay replay : write.replays) {
      replay.append().keyed().complete(new Appended(replay.ids(), true));
    }
  }

  /** What one attempt at a group wrote in the open transaction. */
  private static final class GroupWrite {
    final List<Stored> stored = new ArrayList<>();
    final List<Replay> replays = new ArrayList<>();
    long nextId;

    GroupWrite(long lastId) {
      nextId = lastId;
    }
  }

  /**
   * Stores the group in the open transaction, then applies count retention to its topics. With
   * {@code savepoints}, an append that cannot be stored fails alone (its future completes
   * exceptionally here); without, the first failure throws.
   */
  private GroupWrite storeGroup(
      List<Append> group, Instant now, long createdMs, long lastId, boolean savepoints)
      throws SQLException {
    GroupWrite write = new GroupWrite(lastId);
    Map<String, Long> added = new HashMap<>();
    Map<Long, Set<String>> topicsById = new HashMap<>();
    for (Append append : group) {
      long mark = write.nextId;
      if (savepoints) {
        savepoint.execute();
      }
      try {
        if (append.key() != null && knownKey(append, now, write.replays)) {
          if (savepoints) {
            release.execute();
          }
          continue;
        }
        List<StoredEvent> events = new ArrayList<>(append.batch().size());
        for (Publication publication : append.batch()) {
          long id = ++write.nextId;
          events.add(insert(id, publication, createdMs));
          topicsById.put(id, publication.topics());
        }
        if (append.key() != null) {
          remember(append.key(), events, now);
        }
        if (savepoints) {
          release.execute();
        }
        for (Publication publication : append.batch()) {
          for (String topic : publication.topics()) {
            added.merge(topic, 1L, Long::sum);
          }
        }
        write.stored.add(new Stored(append, events));
      } catch (SQLException e) {
        if (!savepoints) {
          throw e;
        }
        // This append alone fails; the others of the group can still commit.
        write.nextId = mark;
        for (long id = mark + 1; id <= mark + append.batch().size(); id++) {
          topicsById.remove(id);
        }
        LOG.log(System.Logger.Level.WARNING, "could not store an append in " + file, e);
        append.future().completeExceptionally(unavailable("could not store the events", e));
        // If SQLite rolled the whole transaction back itself, this throws and fails the group.
        rollbackToSavepoint.execute();
        release.execute();
      }
    }
    if (write.stored.isEmpty()) {
      return write;
    }
    Map<Long, String> dropped = new TreeMap<>();
    for (Map.Entry<String, Long> topic : added.entrySet()) {
      addRetained.setString(1, topic.getKey());
      addRetained.setLong(2, topic.getValue());
      long retained;
      try (ResultSet row = addRetained.executeQuery()) {
        row.next();
        retained = row.getLong(1);
      }
      trimTopic(topic.getKey(), retained, dropped);
    }
    deleteOrphans(dropped, topicsById);
    return write;
  }

  /**
   * Whether the append's key is known (unexpired): then it is answered — a replay after the commit,
   * or a conflict now, as nothing of it will be stored.
   */
  private boolean knownKey(Append append, Instant now, List<Replay> replays) throws SQLException {
    IdempotencyKey key = append.key();
    findKey.setString(1, key.scope());
    findKey.setString(2, key.key());
    findKey.setLong(3, now.toEpochMilli());
    String fingerprint;
    String ids;
    try (ResultSet row = findKey.executeQuery()) {
      if (!row.next()) {
        return false;
      }
      fingerprint = row.getString(1);
      ids = row.getString(2);
    }
    if (!fingerprint.equals(key.fingerprint())) {
      append
          .keyed()
          .completeExceptionally(
              new IdempotencyConflictException(
                  "the idempotency key \""
                      + key.key()
                      + "\" was used for a different request within the last "
                      + key.window()
                      + "; use a new key for a new request"));
      return true;
    }
    List<Long> parsed = new ArrayList<>();
    for (String id : ids.split(",")) {
      parsed.add(Long.parseLong(id));
    }
    replays.add(new Replay(append, parsed));
    return true;
  }

  private void remember(IdempotencyKey key, List<StoredEvent> events, Instant now)
      throws SQLException {
    StringBuilder ids = new StringBuilder();
    for (StoredEvent event : events) {
      ids.append(ids.length() == 0 ? "" : ",").append(event.id());
    }
    rememberKey.setString(1, key.scope());
    rememberKey.setString(2, key.key());
    rememberKey.setString(3, key.fingerprint());
    rememberKey.setString(4, ids.toString());
    long expires;
    try {
      expires = Math.addExact(now.toEpochMilli(), key.window().toMillis());
    } catch (ArithmeticException e) {
      expires = Long.MAX_VALUE;
    }
    rememberKey.setLong(5, expires);
    rememberKey.executeUpdate();
  }

  private static List<Long> ids(List<StoredEvent> events) {
    List<Long> ids = new ArrayList<>(events.size());
    for (StoredEvent event : events) {
      ids.add(event.id());
    }
    return ids;
  }

  private StoredEvent insert(long id, Publication publication, long createdMs) throws SQLException {
    Event event = publication.event();
    Long retryMs = event.retry().map(Duration::toMillis).orElse(null);
    if (retryMs != null) {
      // Stored in whole milliseconds, as written on the wire: the event reads back equal.
      event = event.toBuilder().retry(Duration.ofMillis(retryMs)).build();
    }
    insertEvent.setLong(1, id);
    insertEvent.setString(2, event.type());
    insertEvent.setString(3, event.data());
    if (retryMs == null) {
      insertEvent.setNull(4, Types.INTEGER);
    } else {
      insertEvent.setLong(4, retryMs);
    }
    insertEvent.setLong(5, createdMs);
    insertEvent.setString(6, String.join("\n", publication.topics()));
    insertEvent.executeUpdate();
    for (String topic : publication.topics()) {
      insertEventTopic.setString(1, topic);
      insertEventTopic.setLong(2, id);
      insertEventTopic.executeUpdate();
    }
    return StoredEvent.of(id, publication.topics(), event, Instant.ofEpochMilli(createdMs));
  }

  private void announce(List<Stored> stored) {
    EventLog.Listener l = listener;
    if (l == null) {
      return;
    }
    List<StoredEvent> all;
    if (stored.size() == 1) {
      all = stored.get(0).events();
    } else {
      all = new ArrayList<>();
      for (Stored s : stored) {
        all.addAll(s.events());
      }
    }
    try {
      l.onAppended(Collections.unmodifiableList(all));
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "the event log listener failed", e);
    }
  }

  private void failAll(List<Append> group, Exception cause) {
    available = false;
    LOG.log(System.Logger.Level.WARNING, "could not commit appends to " + file, cause);
    StoreUnavailableException error = unavailable("could not store the events", cause);
    for (Append append : group) {
      append.future().completeExceptionally(error);
    }
  }

  // ---- retention ----

  /**
   * Drops the oldest events of {@code topic} beyond the count limit, given that it now retains
   * {@code retained}; adds their ids to {@code dropped}, with the topic (they may now belong to no
   * topic).
   */
  private void trimTopic(String topic, long retained, Map<Long, String> dropped)
      throws SQLException {
    long excess = retained - maxCount;
    if (excess <= 0) {
      return;
    }
    List<Long> ids = new ArrayList<>();
    oldestInTopic.setString(1, topic);
    oldestInTopic.setLong(2, excess);
    try (ResultSet rows = oldestInTopic.executeQuery()) {
      while (rows.next()) {
        ids.add(rows.getLong(1));
      }
    }
    if (ids.size() < excess) {
      // The count drifted from the rows (never expected): the query returned every row the topic
      // has, so repair the count and trim by the truth.
      LOG.log(System.Logger.Level.WARNING, "recounting topic {0} in {1}", topic, file);
      recountTopic.setString(1, topic);
      recountTopic.executeUpdate();
      if (ids.size() <= maxCount) {
        return;
      }
      ids = ids.subList(0, ids.size() - maxCount);
    }
    long through = ids.get(ids.size() - 1);
    deleteTopicThrough.setString(1, topic);
    deleteTopicThrough.setLong(2, through);
    int deleted = deleteTopicThrough.executeUpdate();
    recordDropped.setLong(1, deleted);
    recordDropped.setLong(2, through);
    recordDropped.setString(3, topic);
    recordDropped.executeUpdate();
    for (long id : ids) {
      dropped.put(id, topic);
    }
  }

  /**
   * Deletes the events among {@code dropped} (id to a topic it was just dropped from) that no topic
   * retains any more; {@code knownTopics} has the topics of the events this group stored.
   */
  private void deleteOrphans(Map<Long, String> dropped, Map<Long, Set<String>> knownTopics)
      throws SQLException {
    for (Map.Entry<Long, String> entry : dropped.entrySet()) {
      long id = entry.getKey();
      Collection<String> topics = knownTopics.get(id);
      if (topics == null) {
        // Most events have one topic: then the topic it was dropped from was its only one, and
        // one statement deletes it without looking anything up.
        deleteSingleTopicEvent.setLong(1, id);
        deleteSingleTopicEvent.setString(2, entry.getValue());
        if (deleteSingleTopicEvent.executeUpdate() > 0) {
          continue;
        }
        topicsOfEvent.setLong(1, id);
        try (ResultSet row = topicsOfEvent.executeQuery()) {
          if (!row.next()) {
            continue;
          }
          topics = List.of(row.getString(1).split("\n"));
        }
      }
      if (!anyTopicHas(topics, id)) {
        deleteEvent.setLong(1, id);
        deleteEvent.executeUpdate();
      }
    }
  }

  private boolean anyTopicHas(Collection<String> topics, long id) throws SQLException {
    for (String topic : topics) {
      topicHasEvent.setString(1, topic);
      topicHasEvent.setLong(2, id);
      try (ResultSet row = topicHasEvent.executeQuery()) {
        if (row.next()) {
          return true;
        }
      }
    }
    return false;
  }

  /** One bounded transaction of the retention job; finishes the run when nothing is left. */
  private void retentionStep() {
    int deleted;
    try {
      deleted = deleteAged();
    } catch (SQLException | RuntimeException e) {
      available = false;
      LOG.log(System.Logger.Level.WARNING, "retention failed on " + file, e);
      finishRetention(e);
      return;
    }
    retentionDeleted += deleted;
    if (deleted < RETENTION_BATCH) {
      finishRetention(null);
    }
  }

  private void finishRetention(Exception error) {
    retentionDue = false;
    nextRetentionNanos = System.nanoTime() + retentionIntervalNanos;
    if (retentionDeleted > 0) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "retention deleted {0} expired events from {1}",
          retentionDeleted,
          file);
    }
    for (CompletableFuture<Integer> waiter : retentionWaiters) {
      if (error == null) {
        waiter.complete(retentionDeleted);
      } else {
        waiter.completeExceptionally(unavailable("retention failed", error));
      }
    }
    retentionWaiters.clear();
    retentionDeleted = 0;
  }

  /** Deletes up to {@link #RETENTION_BATCH} events past their age, oldest first. */
  private int deleteAged() throws SQLException {
    begin.execute();
    try {
      Map<Long, String> aged = new LinkedHashMap<>();
      agedEvents.setLong(1, ageLimit.cutoff());
      agedEvents.setInt(2, RETENTION_BATCH);
      try (ResultSet rows = agedEvents.executeQuery()) {
        while (rows.next()) {
          aged.put(rows.getLong(1), rows.getString(2));
        }
      }
      // Idempotency keys past their window go with the aged events.
      forgetKeys.setLong(1, clock.millis());
      forgetKeys.executeUpdate();
      // Cursors not saved within the retention age point after events that are gone.
      forgetCursors.setLong(1, ageLimit.cutoff());
      forgetCursors.executeUpdate();
      if (aged.isEmpty()) {
        commit.execute();
        return 0;
      }
      // The deleted events may include the newest: keep its id in meta, never to be reused.
      setLastId.setLong(1, lastId);
      setLastId.executeUpdate();
      // Per topic: rows removed, and the highest id removed.
      Map<String, long[]> perTopic = new HashMap<>();
      for (Map.Entry<Long, String> event : aged.entrySet()) {
        long id = event.getKey();
        for (String topic : event.getValue().split("\n")) {
          deleteEventTopic.setString(1, topic);
          deleteEventTopic.setLong(2, id);
          int removed = deleteEventTopic.executeUpdate();
          long[] totals = perTopic.computeIfAbsent(topic, t -> new long[2]);
          totals[0] += removed;
          totals[1] = Math.max(totals[1], id);
        }
        deleteEvent.setLong(1, id);
        deleteEvent.executeUpdate();
      }
      for (Map.Entry<String, long[]> topic : perTopic.entrySet()) {
        recordDropped.setLong(1, topic.getValue()[0]);
        recordDropped.setLong(2, topic.getValue()[1]);
        recordDropped.setString(3, topic.getKey());
        recordDropped.executeUpdate();
      }
      commit.execute();
      return aged.size();
    } catch (SQLException | RuntimeException e) {
      Schema.rollbackQuietly(statement, e);
      throw e;
    }
  }

  // ---- device cursors ----

  private void writeCursors(SaveCursors save) {
    try {
      begin.execute();
      try {
        long now = clock.millis();
        for (Map.Entry<CursorKey, Long> cursor : save.cursors().entrySet()) {
          saveCursor.setString(1, cursor.getKey().deviceId());
          saveCursor.setString(2, cursor.getKey().topicsText());
          saveCursor.setLong(3, cursor.getValue());
          saveCursor.setLong(4, now);
          saveCursor.executeUpdate();
        }
        commit.execute();
      } catch (SQLException | RuntimeException e) {
        Schema.rollbackQuietly(statement, e);
        throw e;
      }
      save.done().complete(null);
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors in " + file, e);
      save.done().completeExceptionally(unavailable("could not save device cursors", e));
    }
  }

  // ---- health and shutdown ----

  private boolean probeWrite() {
    try {
      begin.execute();
      try {
        statement.executeUpdate("UPDATE meta SET value = value WHERE key = 'last_id'");
        commit.execute();
      } catch (SQLException e) {
        Schema.rollbackQuietly(statement, e);
        throw e;
      }
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
    if (!retentionWaiters.isEmpty()) {
      finishRetention(closed());
    }
    try {
      // Moves the write-ahead log into the database file and truncates it: a clean file.
      statement.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "checkpoint on close failed for " + file, e);
    }
    Database.closeQuietly(connection);
  }

  /** Answers tasks queued after the stop (only possible for probes and retention requests). */
  private void failLeftovers() {
    Task task;
    while ((task = queue.poll()) != null) {
      if (task instanceof Append append) {
        append.future().completeExceptionally(closed());
      } else if (task instanceof Retain retain) {
        retain.done().completeExceptionally(closed());
      } else if (task instanceof Probe probe) {
        probe.done().complete(false);
      } else if (task instanceof SaveCursors save) {
        save.done().completeExceptionally(closed());
      } else if (task instanceof Stop stop) {
        stop.done().complete(null);
      }
    }
  }

  private StoreUnavailableException closed() {
    return new StoreUnavailableException("the SQLite event log " + file + " is closed");
  }

  private StoreUnavailableException unavailable(String what, Throwable cause) {
    return new StoreUnavailableException(what + " in " + file + ": " + cause.getMessage(), cause);
  }
}
