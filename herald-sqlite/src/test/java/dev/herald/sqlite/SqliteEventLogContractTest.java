package dev.herald.sqlite;

import dev.herald.server.EventLogContractTest;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.io.TempDir;

/** The shared {@link EventLog} contract, on a real SQLite file; reopening finds the same file. */
class SqliteEventLogContractTest extends EventLogContractTest {
  @TempDir Path dir;

  @Override
  protected EventLog newLog(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  @Override
  protected boolean reopensWithHistory() {
    return true;
  }

  @Override
  protected boolean supportsIdempotencyKeys() {
    return true;
  }

  @Override
  protected EventLog reopen(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  private EventLog open(Retention retention, Clock clock) {
    return SqliteEventLog.builder()
        .path(dir.resolve("events.db"))
        .retention(retention)
        .clock(clock)
        .build();
  }
}
