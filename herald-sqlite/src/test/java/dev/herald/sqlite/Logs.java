package dev.herald.sqlite;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.EventLog;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Helpers shared by the tests of this module. */
final class Logs {
  private Logs() {}

  static Publication publication(String data, String... topics) {
    return new Publication(new LinkedHashSet<>(List.of(topics)), Event.of(data));
  }

  static StoredEvent append(EventLog log, Publication publication) throws Exception {
    List<StoredEvent> stored = log.append(List.of(publication)).get(10, SECONDS);
    assertThat(stored).hasSize(1);
    return stored.get(0);
  }

  /** Every retained event of {@code topics}, read in pages of {@code pageSize}. */
  static List<StoredEvent> readAll(EventLog log, Set<String> topics, int pageSize) {
    List<StoredEvent> all = new ArrayList<>();
    long after = 0;
    for (int pages = 0; pages < 1_000_000; pages++) {
      List<StoredEvent> page = log.readAfter(topics, after, pageSize);
      assertThat(page.size()).as("page size").isLessThanOrEqualTo(pageSize);
      if (page.isEmpty()) {
        return all;
      }
      all.addAll(page);
      after = page.get(page.size() - 1).id();
    }
    throw new AssertionError("more pages than any test writes");
  }

  /** A count straight from the file, through a connection of the test's own. */
  static long countRows(Path file, String sql) throws SQLException {
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery(sql)) {
      row.next();
      return row.getLong(1);
    }
  }
}
