package dev.herald.redis;

import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Retention;
import dev.herald.server.RetentionPressureStressTest;
import dev.herald.server.spi.EventLog;
import org.junit.jupiter.api.AfterEach;

/** {@link RetentionPressureStressTest} on a real Redis, with a key prefix of its own. */
class RedisRetentionPressureTest extends RetentionPressureStressTest {
  private final String prefix = TestRedis.newPrefix();

  @Override
  protected EventLog newLog(Retention retention) {
    return RedisEventLog.builder()
        .uri(TestRedis.URI)
        .keyPrefix(prefix)
        .retention(retention)
        .build();
  }

  @AfterEach
  void deleteKeys() {
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }
}
