package dev.herald.sqlite;

import dev.herald.core.Event;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The transaction that stores one group of appends: each append's events under consecutive ids (or,
 * for an idempotency key already known, its earlier answer instead), then the count limit on the
 * topics they went to. An append that cannot be stored fails alone; the rest of its group still
 * commits.
 */
final class GroupTransaction {
  private static final System.Logger LOG = System.getLogger(GroupTransaction.class.getName());

  private final WriterConnection writer;
  private final IdempotencyKeys keys;
  private final RetentionJob retention;
  private final RetainedCounts counts;
  private final PreparedStatement insertEvent;
  private final PreparedStatement insertEventTopic;

  GroupTransaction(WriterConnection writer, RetentionJob retention, RetainedCounts counts)
      throws SQLException {
    this.writer = writer;
    this.keys = new IdempotencyKeys(writer);
    this.retention = retention;
    this.counts = counts;
    insertEvent =
        writer.prepare(
            "INSERT INTO events (id, type, data, retry_ms, created_ms, topics)"
                + " VALUES (?, ?, ?, ?, ?, ?)");
    insertEventTopic = writer.prepare("INSERT INTO event_topics VALUES (?, ?)");
  }

  /**
   * Stores the group and commits. If nothing of it is to be stored (every append was answered by
   * its key or failed alone), rolls back instead: then {@link GroupWrite#stored} is empty.
   *
   * @param now the group's time, for idempotency windows
   * @param createdMs the timestamp of every event of the group
   * @param lastId the id the group's events follow
   * @throws SQLException if the group failed as a whole; the transaction is rolled back
   */
  GroupWrite commit(List<Append> group, Instant now, long createdMs, long lastId)
      throws SQLException {
    try {
      writer.begin();
      GroupWrite write;
      try {
        // No savepoints first: two statements per append saved. An append that cannot be stored
        // is rare (a value over the length limit, a full disk); then the group is stored again
        // with a savepoint per append, so that append fails alone.
        write = store(group, now, createdMs, lastId, false);
      } catch (SQLException e) {
        if (group.size() == 1) {
          throw e;
        }
        LOG.log(System.Logger.Level.DEBUG, "storing the group again append by append", e);
        writer.rollbackQuietly(e);
        counts.rolledBack();
        writer.begin();
        write = store(group, now, createdMs, lastId, true);
      }
      if (write.stored.isEmpty()) {
        writer.rollback();
        counts.rolledBack();
      } else {
        // No meta write here: the newest event carries the newest id (count retention always
        // keeps the newest event of a topic), and the retention job records last_id before it
        // deletes.
        writer.commit();
        counts.committed();
      }
      return write;
    } catch (SQLException | RuntimeException e) {
      writer.rollbackQuietly(e);
      counts.rolledBack();
      throw e;
    }
  }

  /**
   * Stores the group in the open transaction, then applies count retention to its topics. With
   * {@code savepoints}, an append that cannot be stored fails alone (its future completes
   * exceptionally here); without, the first failure throws.
   */
  private GroupWrite store(
      List<Append> group, Instant now, long createdMs, long lastId, boolean savepoints)
      throws SQLException {
    GroupWrite write = new GroupWrite(lastId);
    Map<String, Long> added = new HashMap<>();
    Map<Long, Set<String>> topicsById = new HashMap<>();
    for (Append append : group) {
      long mark = write.nextId;
      if (savepoints) {
        writer.savepoint();
      }
      try {
        if (append.idempotent() && answeredByKey(append, now, write)) {
          if (savepoints) {
            writer.releaseSavepoint();
          }
          continue;
        }
        List<StoredEvent> events = new ArrayList<>(append.batch().size());
        for (Publication publication : append.batch()) {
          long id = ++write.nextId;
          events.add(insert(id, publication, createdMs));
          topicsById.put(id, publication.topics());
        }
        if (append.idempotent()) {
          keys.remember(append.key(), events, now);
        }
        if (savepoints) {
          writer.releaseSavepoint();
        }
        for (Publication publication : append.batch()) {
          for (String topic : publication.topics()) {
            added.merge(topic, 1L, Long::sum);
          }
        }
        write.stored.add(new GroupWrite.Stored(append, events));
      } catch (SQLException e) {
        if (!savepoints) {
          throw e;
        }
        // This append alone fails; the others of the group can still commit.
        write.nextId = mark;
        for (long id = mark + 1; id <= mark + append.batch().size(); id++) {
          topicsById.remove(id);
        }
        LOG.log(System.Logger.Level.WARNING, "could not store an append in " + writer.file(), e);
        append.future().completeExceptionally(writer.unavailable("could not store the events", e));
        // If SQLite rolled the whole transaction back itself, this throws and fails the group.
        writer.rollbackToSavepoint();
        writer.releaseSavepoint();
      }
    }
    if (!write.stored.isEmpty()) {
      retention.trimAfterAppend(added, topicsById);
    }
    return write;
  }

  /**
   * Whether the append's key is known (unexpired): then it is answered — a replay after the commit,
   * or a conflict now, as nothing of it will be stored.
   */
  private boolean answeredByKey(Append append, Instant now, GroupWrite write) throws SQLException {
    Optional<List<Long>> ids;
    try {
      ids = keys.find(append.key(), now);
    } catch (IdempotencyConflictException e) {
      append.keyed().completeExceptionally(e);
      return true;
    }
    ids.ifPresent(known -> write.replays.add(new GroupWrite.Replay(append, known)));
    return ids.isPresent();
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
}
