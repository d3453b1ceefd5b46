package dev.herald.sqlite;

import dev.herald.core.Event;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.CursorKey;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * One read connection and its prepared statements. Each read runs in one transaction, so it sees
 * one committed snapshot: the age boundary, the dropped ids and the rows it reads always agree.
 */
final class Reader {
  private final Connection connection;
  private final Statement statement;
  private final AgeLimit ageLimit;
  private final long floor;
  private final AgedPrefix agedPrefix;
  private final PreparedStatement droppedFromTopic;
  private final PreparedStatement agedInTopic;
  private final PreparedStatement cursorOf;
  private final Map<Integer, PreparedStatement> pages = new HashMap<>();

  Reader(Connection connection, AgeLimit ageLimit, long floor) throws SQLException {
    this.connection = connection;
    this.ageLimit = ageLimit;
    this.floor = floor;
    try {
      statement = connection.createStatement();
      agedPrefix = new AgedPrefix(connection);
      droppedFromTopic =
          connection.prepareStatement("SELECT through FROM topic_drops WHERE topic = ?");
      agedInTopic =
          connection.prepareStatement(
              "SELECT id FROM event_topics WHERE topic = ? AND id <= ? ORDER BY id DESC LIMIT 1");
      cursorOf =
          connection.prepareStatement(
              "SELECT cursor FROM device_cursors WHERE device = ? AND topics = ? AND saved_ms > ?");
    } catch (SQLException e) {
      Database.closeQuietly(connection);
      throw e;
    }
  }

  /**
   * Up to {@code limit} retained events above {@code afterId} in any of {@code topics}, each once,
   * in id order. Events past their age form an id prefix, so starting after the newest of them
   * skips exactly those, and every page is full while more retained events follow.
   */
  List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) throws SQLException {
    begin();
    try {
      long from = Math.max(afterId, agedThrough());
      PreparedStatement page = page(topics.size());
      int index = 1;
      for (String topic : topics) {
        page.setString(index++, topic);
        page.setLong(index++, from);
      }
      page.setInt(index, limit);
      List<StoredEvent> events = new ArrayList<>(Math.min(limit, 1024));
      try (ResultSet rows = page.executeQuery()) {
        while (rows.next()) {
          events.add(toStoredEvent(rows));
        }
      }
      commit();
      return events;
    } catch (SQLException | RuntimeException e) {
      rollback(e);
      throw e;
    }
  }

  /**
   * The highest id dropped from any of {@code topics}: deleted by retention (recorded per topic),
   * still stored but past its age (the newest such event of each topic), or from before the file
   * existed (the floor).
   */
  long droppedThrough(Set<String> topics) throws SQLException {
    begin();
    try {
      long aged = agedThrough();
      long dropped = floor;
      for (String topic : topics) {
        droppedFromTopic.setString(1, topic);
        try (ResultSet row = droppedFromTopic.executeQuery()) {
          if (row.next()) {
            dropped = Math.max(dropped, row.getLong(1));
          }
        }
        if (aged > dropped) {
          agedInTopic.setString(1, topic);
          agedInTopic.setLong(2, aged);
          try (ResultSet row = agedInTopic.executeQuery()) {
            if (row.next()) {
              dropped = Math.max(dropped, row.getLong(1));
            }
          }
        }
      }
      commit();
      return dropped;
    } catch (SQLException | RuntimeException e) {
      rollback(e);
      throw e;
    }
  }

  /** The query plan of the page query, one step a line. */
  String explainReadPlan(int topicCount) throws SQLException {
    StringBuilder plan = new StringBuilder();
    try (PreparedStatement explain =
        connection.prepareStatement("EXPLAIN QUERY PLAN " + pageSql(topicCount))) {
      for (int i = 1; i <= topicCount; i++) {
        explain.setString(2 * i - 1, "topic" + i);
        explain.setLong(2 * i, 0);
      }
      explain.setInt(2 * topicCount + 1, 1);
      try (ResultSet rows = explain.executeQuery()) {
        while (rows.next()) {
          plan.append(rows.getString("detail")).append('\n');
        }
      }
    }
    return plan.toString();
  }

  void close() {
    Database.closeQuietly(connection);
  }

  /** The saved cursor of {@code key}, 0 if none within the retention age. */
  long cursor(CursorKey key) throws SQLException {
    cursorOf.setString(1, key.deviceId());
    cursorOf.setString(2, key.topicsText());
    cursorOf.setLong(3, ageLimit.cutoff());
    try (ResultSet row = cursorOf.executeQuery()) {
      return row.next() ? row.getLong(1) : 0;
    }
  }

  /** The newest event past its age: events past their age are an id prefix, which this ends. */
  private long agedThrough() throws SQLException {
    return agedPrefix.newestAtOrBefore(ageLimit.cutoff());
  }

  private PreparedStatement page(int topicCount) throws SQLException {
    PreparedStatement page = pages.get(topicCount);
    if (page == null) {
      page = connection.prepareStatement(pageSql(topicCount));
      pages.put(topicCount, page);
    }
    return page;
  }

  /**
   * One range search of the (topic, id) key per topic, merged in id order by a compound UNION
   * (which also removes the duplicates of events in several topics) and cut at the limit; SQLite
   * runs it as a lazy merge, so a page costs about {@code limit} rows per topic, however long the
   * history. The plan is checked by a test.
   */
  static String pageSql(int topicCount) {
    StringJoiner ids = new StringJoiner(" UNION ");
    for (int i = 0; i < topicCount; i++) {
      ids.add("SELECT id FROM event_topics WHERE topic = ? AND id > ?");
    }
    return "SELECT e.id, e.type, e.data, e.retry_ms, e.created_ms, e.topics FROM ("
        + ids
        + " ORDER BY 1 LIMIT ?) AS page CROSS JOIN events AS e ON e.id = page.id ORDER BY e.id";
  }

  private static StoredEvent toStoredEvent(ResultSet row) throws SQLException {
    long id = row.getLong(1);
    Event.Builder event = Event.builder().type(row.getString(2)).data(row.getString(3));
    long retryMs = row.getLong(4);
    if (!row.wasNull()) {
      event.retry(Duration.ofMillis(retryMs));
    }
    Instant created = Instant.ofEpochMilli(row.getLong(5));
    Set<String> topics = Set.copyOf(Arrays.asList(row.getString(6).split("\n")));
    return StoredEvent.of(id, topics, event.build(), created);
  }

  private void begin() throws SQLException {
    statement.execute("BEGIN");
  }

  private void commit() throws SQLException {
    statement.execute("COMMIT");
  }

  private void rollback(Throwable cause) {
    Schema.rollbackQuietly(statement, cause);
  }
}
