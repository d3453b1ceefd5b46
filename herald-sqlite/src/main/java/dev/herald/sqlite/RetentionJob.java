package dev.herald.sqlite;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * What the file keeps: at most {@code maxCount} events per topic, none past their age, and for each
 * topic the highest id retention dropped from it ({@code topic_drops.through}), which readers turn
 * into a {@code reset} instead of a silent gap.
 *
 * <p>The count limit is applied in the transaction of the append that overflows a topic, told by
 * {@link RetainedCounts}; and once at start-up, for a file written under a larger limit than this
 * one ({@code meta.count_limit} records the limit the file's history obeys). Everything that
 * expires — events past their age, idempotency keys past their window, device cursors not saved
 * within the retention age — is deleted by a job the writer runs between groups, at least every
 * {@code intervalNanos}, in transactions of at most {@link #BATCH} events so a large backlog never
 * holds the write lock for long.
 *
 * <p>Used only while holding the writer's lock ({@link WriteLoop}), and before the writer starts by
 * the thread that builds the log; its schedule ({@link #nanosUntilDue}, {@link #step}) is the
 * writer thread's alone.
 */
final class RetentionJob {
  private static final System.Logger LOG = System.getLogger(RetentionJob.class.getName());

  /** The most events one transaction of the job deletes. */
  static final int BATCH = 500;

  /** Topics per transaction when applying a lowered count limit at start-up. */
  private static final int TRIM_TOPICS_BATCH = 100;

  private final WriterConnection writer;
  private final RetainedCounts counts;
  private final AgedPrefix agedPrefix;
  private final int maxCount;
  private final Clock clock;
  private final AgeLimit ageLimit;
  private final long intervalNanos;
  private final Runnable onFailure;

  private final PreparedStatement oldestInTopic;
  private final PreparedStatement deleteTopicThrough;
  private final PreparedStatement recordDropped;
  private final PreparedStatement topicsOfEvent;
  private final PreparedStatement topicHasEvent;
  private final PreparedStatement deleteEvent;
  private final PreparedStatement deleteSingleTopicEvent;
  private final PreparedStatement deleteEventTopic;
  private final PreparedStatement agedEvents;
  private final PreparedStatement setLastId;
  private final PreparedStatement countLimit;
  private final PreparedStatement setCountLimit;
  private final PreparedStatement overfullTopics;
  private final PreparedStatement forgetKeys;
  private final PreparedStatement forgetCursors;

  // Run once at start: the file may hold events that aged while it was closed.
  private boolean due = true;
  private long nextNanos;
  private int deleted;
  private final List<CompletableFuture<Integer>> waiters = new ArrayList<>();

  /**
   * @param onFailure called when a run fails, before anyone waiting on it hears of the failure
   */
  RetentionJob(
      WriterConnection writer,
      RetainedCounts counts,
      int maxCount,
      Clock clock,
      AgeLimit ageLimit,
      long intervalNanos,
      Runnable onFailure)
      throws SQLException {
    this.writer = writer;
    this.counts = counts;
    this.agedPrefix = new AgedPrefix(writer.connection());
    this.maxCount = maxCount;
    this.clock = clock;
    this.ageLimit = ageLimit;
    this.intervalNanos = intervalNanos;
    this.onFailure = onFailure;
    oldestInTopic =
        writer.prepare("SELECT id FROM event_topics WHERE topic = ? ORDER BY id LIMIT ?");
    deleteTopicThrough = writer.prepare("DELETE FROM event_topics WHERE topic = ? AND id <= ?");
    recordDropped =
        writer.prepare(
            "INSERT INTO topic_drops (topic, through) VALUES (?, ?)"
                + " ON CONFLICT (topic) DO UPDATE SET through = max(through, excluded.through)");
    topicsOfEvent = writer.prepare("SELECT topics FROM events WHERE id = ?");
    topicHasEvent = writer.prepare("SELECT 1 FROM event_topics WHERE topic = ? AND id = ?");
    deleteEvent = writer.prepare("DELETE FROM events WHERE id = ?");
    // An event of one topic, dropped from that topic, belongs to no topic any more.
    deleteSingleTopicEvent = writer.prepare("DELETE FROM events WHERE id = ? AND topics = ?");
    deleteEventTopic = writer.prepare("DELETE FROM event_topics WHERE topic = ? AND id = ?");
    agedEvents = writer.prepare("SELECT id, topics FROM events WHERE id <= ? ORDER BY id LIMIT ?");
    setLastId = writer.prepare("UPDATE meta SET value = ? WHERE key = 'last_id'");
    countLimit = writer.prepare("SELECT value FROM meta WHERE key = 'count_limit'");
    setCountLimit =
        writer.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('count_limit', ?)");
    overfullTopics =
        writer.prepare(
            "SELECT topic, count(*) FROM event_topics GROUP BY topic HAVING count(*) > ?");
    forgetKeys = writer.prepare("DELETE FROM idempotency_keys WHERE expires_ms <= ?");
    forgetCursors = writer.prepare("DELETE FROM device_cursors WHERE saved_ms <= ?");
  }

  // ---- the count limit ----

  /**
   * Applies the count limit to every topic, before the writer starts, if the file was written under
   * a larger limit (or its limit is not recorded): then it holds more per topic than this one
   * keeps. Counting every topic reads all of {@code event_topics}, so it is done only then.
   */
  void enforceCountLimit() throws SQLException {
    long obeyed;
    try (ResultSet row = countLimit.executeQuery()) {
      obeyed = row.next() ? row.getLong(1) : Long.MAX_VALUE;
    }
    if (obeyed == maxCount) {
      return;
    }
    if (obeyed > maxCount) {
      Map<String, Long> overfull = new LinkedHashMap<>();
      overfullTopics.setLong(1, maxCount);
      try (ResultSet rows = overfullTopics.executeQuery()) {
        while (rows.next()) {
          overfull.put(rows.getString(1), rows.getLong(2));
        }
      }
      List<String> topics = new ArrayList<>(overfull.keySet());
      for (int from = 0; from < topics.size(); from += TRIM_TOPICS_BATCH) {
        List<String> batch =
            topics.subList(from, Math.min(topics.size(), from + TRIM_TOPICS_BATCH));
        inCountedTransaction(
            () -> {
              Map<Long, String> dropped = new TreeMap<>();
              for (String topic : batch) {
                trimTopic(topic, overfull.get(topic), dropped);
              }
              deleteOrphans(dropped, Map.of());
              return null;
            });
      }
      if (!overfull.isEmpty()) {
        LOG.log(
            System.Logger.Level.INFO,
            "applied the count limit {0} to {1} topics of {2}",
            maxCount,
            overfull.size(),
            writer.file());
      }
    }
    // From now on the file obeys this limit (a larger one later finds nothing to trim).
    inCountedTransaction(
        () -> {
          setCountLimit.setLong(1, maxCount);
          return setCountLimit.executeUpdate();
        });
  }

  /**
   * Counts a group's new events in their topics and drops what the count limit no longer keeps, in
   * the group's open transaction.
   *
   * @param added per topic, how many events the group stored in it
   * @param topicsById the topics of each event the group stored
   */
  void trimAfterAppend(Map<String, Long> added, Map<Long, Set<String>> topicsById)
      throws SQLException {
    Map<Long, String> dropped = new TreeMap<>();
    for (Map.Entry<String, Long> topic : added.entrySet()) {
      long retained = counts.afterAdding(topic.getKey(), topic.getValue());
      trimTopic(topic.getKey(), retained, dropped);
    }
    deleteOrphans(dropped, topicsById);
  }

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
      LOG.log(System.Logger.Level.WARNING, "recounting topic {0} in {1}", topic, writer.file());
      retained = ids.size();
      counts.set(topic, retained);
      if (ids.size() <= maxCount) {
        return;
      }
      ids = ids.subList(0, ids.size() - maxCount);
    }
    long through = ids.get(ids.size() - 1);
    deleteTopicThrough.setString(1, topic);
    deleteTopicThrough.setLong(2, through);
    int removed = deleteTopicThrough.executeUpdate();
    counts.set(topic, retained - removed);
    recordDropped(topic, through);
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

  /** Moves the topic's watermark of dropped ids up to {@code id}. */
  private void recordDropped(String topic, long id) throws SQLException {
    recordDropped.setString(1, topic);
    recordDropped.setLong(2, id);
    recordDropped.executeUpdate();
  }

  /** {@link WriterConnection#inTransaction}, with the counts it changes kept only if it commits. */
  private <T> T inCountedTransaction(WriterConnection.Work<T> work) throws SQLException {
    T result;
    try {
      result = writer.inTransaction(work);
    } catch (SQLException | RuntimeException e) {
      counts.rolledBack();
      throw e;
    }
    counts.committed();
    return result;
  }

  // ---- the job: expiry by age ----

  /** Asks for a run now; {@code waiter} completes with the number of events it deleted. */
  void request(CompletableFuture<Integer> waiter) {
    due = true;
    waiters.add(waiter);
  }

  /** Whether a run is under way: the writer does one step of it after every task until it ends. */
  boolean running() {
    return due;
  }

  /** Nanoseconds until the next run is due, or 0 once it is (it then runs until it ends). */
  long nanosUntilDue() {
    long wait = nextNanos - System.nanoTime();
    if (!due && wait <= 0) {
      due = true;
    }
    return due ? 0 : wait;
  }

  /**
   * One bounded transaction of the run; ends the run when nothing is left.
   *
   * @param lastId the newest id assigned, kept in the file before events are deleted
   */
  void step(long lastId) {
    int count;
    try {
      count = deleteAged(lastId);
    } catch (SQLException | RuntimeException e) {
      onFailure.run();
      LOG.log(System.Logger.Level.WARNING, "retention failed on " + writer.file(), e);
      finish(e);
      return;
    }
    deleted += count;
    if (count < BATCH) {
      finish(null);
    }
  }

  /** Ends a requested run that cannot go on (the log is closing), failing its waiters. */
  void abandon(Exception cause) {
    if (!waiters.isEmpty()) {
      finish(cause);
    }
  }

  private void finish(Exception error) {
    due = false;
    nextNanos = System.nanoTime() + intervalNanos;
    if (deleted > 0) {
      LOG.log(
          System.Logger.Level.DEBUG,
          "retention deleted {0} expired events from {1}",
          deleted,
          writer.file());
    }
    for (CompletableFuture<Integer> waiter : waiters) {
      if (error == null) {
        waiter.complete(deleted);
      } else {
        waiter.completeExceptionally(writer.unavailable("retention failed", error));
      }
    }
    waiters.clear();
    deleted = 0;
  }

  /** Deletes up to {@link #BATCH} events past their age, oldest first. */
  private int deleteAged(long lastId) throws SQLException {
    return inCountedTransaction(
        () -> {
          Map<Long, String> aged = new LinkedHashMap<>();
          agedEvents.setLong(1, agedPrefix.newestAtOrBefore(ageLimit.cutoff()));
          agedEvents.setInt(2, BATCH);
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
            counts.subtract(topic.getKey(), topic.getValue()[0]);
            recordDropped(topic.getKey(), topic.getValue()[1]);
          }
          return aged.size();
        });
  }
}
