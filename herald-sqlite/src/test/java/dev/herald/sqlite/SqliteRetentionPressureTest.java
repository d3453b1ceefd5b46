package dev.herald.sqlite;

import dev.herald.server.Retention;
import dev.herald.server.RetentionPressureStressTest;
import dev.herald.server.spi.EventLog;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** {@link RetentionPressureStressTest} on a real SQLite file. */
class SqliteRetentionPressureTest extends RetentionPressureStressTest {
  @TempDir Path dir;

  @Override
  protected EventLog newLog(Retention retention) {
    return SqliteEventLog.builder().path(dir.resolve("events.db")).retention(retention).build();
  }
}
