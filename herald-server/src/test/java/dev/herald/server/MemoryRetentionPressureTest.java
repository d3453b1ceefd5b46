package dev.herald.server;

import dev.herald.server.spi.EventLog;
import java.time.Duration;
import org.junit.jupiter.api.Nested;

/**
 * {@link RetentionPressureStressTest} on the memory log: retention by count, and by its byte cap.
 */
class MemoryRetentionPressureTest {
  @Nested
  class ByCount extends RetentionPressureStressTest {
    @Override
    protected EventLog newLog(Retention retention) {
      return MemoryEventLog.builder().retention(retention).build();
    }
  }

  @Nested
  class ByByteCap extends RetentionPressureStressTest {
    @Override
    protected EventLog newLog(Retention retention) {
      // About 100 events of 2 KiB: the cap, not the count, drops them.
      return MemoryEventLog.builder()
          .retention(new Retention(1_000_000, Duration.ofHours(1)))
          .maxBytes(256 * 1024)
          .build();
    }
  }
}
