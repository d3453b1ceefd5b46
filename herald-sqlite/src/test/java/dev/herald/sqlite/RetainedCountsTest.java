package dev.herald.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The counts kept in memory: remembered across transactions that commit, forgotten for the topics
 * of one that does not, and counted again from the rows once evicted. A row slipped in behind the
 * counts' back shows which answers came from memory and which from the rows.
 */
@Timeout(30)
class RetainedCountsTest {
  @TempDir Path dir;
  private Connection connection;
  private WriterConnection writer;
  private RetainedCounts counts;
  private PreparedStatement insertRow;
  private long nextId = 1;

  @BeforeEach
  void open() throws SQLException {
    Path file = dir.resolve("events.db");
    connection = DriverManager.getConnection("jdbc:sqlite:" + file);
    Schema.open(connection, Clock.systemUTC());
    writer = new WriterConnection(file, 1_000, connection);
    counts = new RetainedCounts(writer, 2);
    insertRow = connection.prepareStatement("INSERT INTO event_topics VALUES (?, ?)");
  }

  @AfterEach
  void close() throws SQLException {
    connection.close();
  }

  @Test
  void committedCountsAreRememberedAndTheTopicIsNotCountedAgain() throws SQLException {
    assertThat(appendCommitted("a", 3)).as("counted from the rows").isEqualTo(3);
    insertBehindTheirBack("a");
    assertThat(appendCommitted("a", 1)).as("from memory: 3 + 1").isEqualTo(4);
  }

  @Test
  void aTransactionThatDoesNotCommitLeavesItsTopicsToBeCountedAgain() throws SQLException {
    appendCommitted("a", 2);
    writer.begin();
    insertRows("a", 5);
    assertThat(counts.afterAdding("a", 5)).isEqualTo(7);
    writer.rollback();
    counts.rolledBack();
    insertBehindTheirBack("a");
    assertThat(appendCommitted("a", 1)).as("counted again: 2 + 1 + 1").isEqualTo(4);
  }

  @Test
  void subtractionsAndSetsHoldOnlyOnceCommitted() throws SQLException {
    appendCommitted("a", 4);
    writer.begin();
    counts.subtract("a", 3);
    counts.set("b", 9);
    writer.commit();
    counts.committed();
    insertBehindTheirBack("b");
    assertThat(appendCommitted("a", 0)).isEqualTo(1);
    assertThat(appendCommitted("b", 0)).isEqualTo(9);
    // A subtraction from a topic not known changes nothing: it is counted when next written.
    writer.begin();
    counts.subtract("c", 1);
    writer.commit();
    counts.committed();
    insertRows("c", 2);
    assertThat(appendCommitted("c", 0)).isEqualTo(2);
  }

  @Test
  void theLeastRecentlyWrittenTopicIsEvictedAndCountedAgain() throws SQLException {
    appendCommitted("a", 1);
    appendCommitted("b", 1);
    insertBehindTheirBack("a");
    insertBehindTheirBack("b");
    appendCommitted("c", 1); // over the capacity of two: a goes
    assertThat(appendCommitted("b", 0)).as("b still known").isEqualTo(1);
    assertThat(appendCommitted("a", 0)).as("a counted again").isEqualTo(2);
  }

  /** Stores {@code added} rows in one committed transaction; returns the count after. */
  private long appendCommitted(String topic, int added) throws SQLException {
    writer.begin();
    insertRows(topic, added);
    long retained = counts.afterAdding(topic, added);
    writer.commit();
    counts.committed();
    return retained;
  }

  private void insertBehindTheirBack(String topic) throws SQLException {
    insertRows(topic, 1);
  }

  private void insertRows(String topic, int rows) throws SQLException {
    for (int i = 0; i < rows; i++) {
      insertRow.setString(1, topic);
      insertRow.setLong(2, nextId++);
      insertRow.executeUpdate();
    }
  }
}
