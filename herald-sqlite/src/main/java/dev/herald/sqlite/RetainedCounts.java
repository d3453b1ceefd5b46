package dev.herald.sqlite;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How many events each recently written topic retains, so that the count limit is checked without
 * counting — and without a row per topic to update in every commit (schema version 3 dropped it:
 * one page fewer per commit). A topic not known here is counted once, a range count in {@code
 * event_topics}; the counts of the topics written most recently are kept (up to a capacity, {@link
 * #CAPACITY} in the writer).
 *
 * <p>Changes made in a transaction are pending until {@link #committed}; {@link #rolledBack}
 * forgets the topics it changed, to be counted again, which is right whatever the outcome of a
 * failed commit was. Used by the writer thread only.
 */
final class RetainedCounts {
  /**
   * Topics whose counts are kept: a count costs a few bytes of heap and, when missing, one range
   * count of at most the count limit's rows.
   */
  static final int CAPACITY = 65_536;

  private final PreparedStatement countTopic;
  private final Map<String, Long> known;
  private final Map<String, Long> pending = new HashMap<>();

  RetainedCounts(WriterConnection writer, int capacity) throws SQLException {
    known =
        new LinkedHashMap<>(1024, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > capacity;
          }
        };
    countTopic = writer.prepare("SELECT count(*) FROM event_topics WHERE topic = ?");
  }

  /**
   * What {@code topic} retains now that the open transaction stored {@code added} more events in it
   * (rows the transaction can already see).
   */
  long afterAdding(String topic, long added) throws SQLException {
    Long before = current(topic);
    long retained = before == null ? count(topic) : before + added;
    pending.put(topic, retained);
    return retained;
  }

  /** Records that {@code topic} retains {@code retained} events in the open transaction. */
  void set(String topic, long retained) {
    pending.put(topic, retained);
  }

  /** Takes {@code removed} events off the topic's count, if it is known. */
  void subtract(String topic, long removed) {
    Long before = current(topic);
    if (before != null) {
      pending.put(topic, before - removed);
    }
  }

  /** The open transaction committed: its counts hold. */
  void committed() {
    known.putAll(pending);
    pending.clear();
  }

  /** The open transaction rolled back, or its commit failed: what it changed is counted again. */
  void rolledBack() {
    known.keySet().removeAll(pending.keySet());
    pending.clear();
  }

  private Long current(String topic) {
    Long count = pending.get(topic);
    return count != null ? count : known.get(topic);
  }

  private long count(String topic) throws SQLException {
    countTopic.setString(1, topic);
    try (ResultSet row = countTopic.executeQuery()) {
      row.next();
      return row.getLong(1);
    }
  }
}
