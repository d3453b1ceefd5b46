package dev.herald.redis;

import dev.herald.redis.testing.TestRedis;
import dev.herald.server.EventLogContractTest;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;

/**
 * The shared {@link EventLog} contract on a real Redis. Each test has its own key prefix; reopening
 * connects again to the same keys, as a restarted node would. The clock is the test's: timestamps
 * and retention by age come from the node, ids from Redis.
 */
class RedisEventLogContractTest extends EventLogContractTest {
  private final String prefix = TestRedis.newPrefix();

  @Override
  protected EventLog newLog(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  @Override
  protected EventLog reopen(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  private EventLog open(Retention retention, Clock clock) {
    return new WatchingLog(
        RedisEventLog.builder()
            .uri(TestRedis.URI)
            .keyPrefix(prefix)
            .retention(retention)
            .clock(clock)
            .build());
  }

  @Override
  protected boolean supportsIdempotencyKeys() {
    return true;
  }

  /** Reopening connects to the same keys: the cursors are still there. */
  @Override
  protected boolean reopensWithHistory() {
    return true;
  }

  @AfterEach
  void deleteKeys() {
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }
}
