package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.redis.testing.RedisProcess;
import dev.herald.server.StoreUnavailableException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Which client a URI gets, and what a bad or unreachable one does. */
@Timeout(30)
class ConnectorTest {
  @Test
  void clusterSchemesListSeedNodesAndOtherUrisAreLettuces() {
    assertThat(Connector.isCluster("redis-cluster://127.0.0.1:7000")).isTrue();
    assertThat(Connector.isCluster("rediss-cluster://127.0.0.1:7000")).isTrue();
    assertThat(Connector.isCluster("redis://127.0.0.1:7000")).isFalse();
    Connector.check("redis-cluster://127.0.0.1:7000,127.0.0.1:7001");
    Connector.check("redis-cluster://:secret@127.0.0.1:7000,127.0.0.1:7001/0");
    Connector.check("rediss-cluster://user:secret@redis.internal:7000?timeout=5s");
    RedisEventLog.builder().uri("redis-cluster://10.0.0.1:7000,10.0.0.2:7000");

    assertThatThrownBy(() -> Connector.check("redis-cluster://"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("seed nodes");
    assertThatThrownBy(() -> Connector.check("redis-cluster://127.0.0.1:7000,,127.0.0.1:7001"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("seed nodes");
    assertThatThrownBy(() -> Connector.check("redis-cluster://127.0.0.1:7000/3"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("only database 0");
    assertThatThrownBy(() -> RedisEventLog.builder().uri("http://127.0.0.1:7000"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anUnreachableClusterFailsTheBuildWithStoreUnavailable() {
    int port = RedisProcess.freePort(); // nothing listens there
    long start = System.nanoTime();

    assertThatThrownBy(
            () ->
                RedisEventLog.builder()
                    .uri("redis-cluster://127.0.0.1:" + port)
                    .commandTimeout(Duration.ofMillis(500))
                    .build())
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("cannot connect to Redis at cluster 127.0.0.1:" + port);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void anUnreachableSentinelFailsTheBuildNamingTheMasterAndTheSentinels() {
    int port = RedisProcess.freePort(); // nothing listens there

    assertThatThrownBy(
            () ->
                RedisEventLog.builder()
                    .uri("redis-sentinel://127.0.0.1:" + port + "/3#herald")
                    .commandTimeout(Duration.ofMillis(500))
                    .build())
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining(
            "cannot connect to Redis at master herald/3 via Sentinel 127.0.0.1:" + port);
  }
}
