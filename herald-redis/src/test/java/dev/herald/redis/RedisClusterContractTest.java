package dev.herald.redis;

import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.EventLogContractTest;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import java.time.Clock;
import org.junit.jupiter.api.BeforeAll;

/**
 * The shared {@link EventLog} contract, idempotency keys and device cursors included, on a real
 * Redis Cluster of three masters started for this class ({@code redis-cluster://} URI). Each test
 * has its own key prefix, so its keys live in their own slot, on whichever master owns it.
 */
class RedisClusterContractTest extends EventLogContractTest {
  private static RedisCluster cluster;

  private final String prefix = TestRedis.newPrefix();

  @BeforeAll
  static void sharedCluster() throws Exception {
    cluster = RedisCluster.shared();
  }

  @Override
  protected EventLog newLog(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  @Override
  protected EventLog reopen(Retention retention, Clock clock) {
    return open(retention, clock);
  }

  @Override
  protected boolean supportsIdempotencyKeys() {
    return true;
  }

  @Override
  protected boolean reopensWithHistory() {
    return true;
  }

  private EventLog open(Retention retention, Clock clock) {
    return new WatchingLog(
        RedisEventLog.builder()
            .uri(cluster.uri())
            .keyPrefix(prefix)
            .retention(retention)
            .clock(clock)
            .build());
  }
}
