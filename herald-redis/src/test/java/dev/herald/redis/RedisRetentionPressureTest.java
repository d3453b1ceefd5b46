package dev.herald.redis;

import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Retention;
import dev.herald.server.RetentionPressureStressTest;
import dev.herald.server.spi.EventLog;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link RetentionPressureStressTest} on a real Redis, with a key prefix of its own. */
class RedisRetentionPressureTest extends RetentionPressureStressTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();

  @Override
  protected EventLog newLog(Retention retention) {
    return RedisEventLog.builder()
        .uri(TestRedis.URI)
        .keyPrefix(redis.prefix())
        .retention(retention)
        .build();
  }
}
