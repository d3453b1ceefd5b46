package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.MutableClock;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the Redis layout does that the shared contract cannot see: keys, sweeping, start-up. */
@Timeout(60)
class RetentionSweepTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final Keys keys = new Keys(prefix);
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-15T10:00:00Z"));
  private final RedisClient client = RedisClient.create(TestRedis.URI);
  private final StatefulRedisConnection<String, String> raw = client.connect();

  {
    // The last added closes first: raw, then the client.
    redis.closeAfter(client::shutdown);
    redis.closeAfter(raw);
  }

  @Test
  void sweepDeletesExpiredEventsOfTopicsNobodyPublishesTo() throws Exception {
    try (RedisEventLog log = open(new Retention(100, Duration.ofSeconds(10)))) {
      StoredEvent last = null;
      for (int i = 0; i < 3; i++) {
        last = append(log, "quiet", "e" + i);
      }
      StoredEvent busy = append(log, "busy", "young");
      clock.advance(Duration.ofSeconds(6));
      StoredEvent busier = append(log, "busy", "younger");
      clock.advance(Duration.ofSeconds(5)); // quiet's and busy's first are 11 s old

      assertThat(raw.sync().xlen(keys.stream("quiet"))).as("expired, not yet deleted").isEqualTo(3);
      log.sweepNow().get(10, SECONDS);

      assertThat(raw.sync().exists(keys.stream("quiet"))).as("emptied stream deleted").isZero();
      assertThat(raw.sync().zscore(keys.oldest, "quiet")).isNull();
      assertThat(raw.sync().xlen(keys.stream("busy"))).isEqualTo(1);
      assertThat(log.droppedThrough(Set.of("quiet"))).isEqualTo(last.id());
      assertThat(log.droppedThrough(Set.of("busy"))).isEqualTo(busy.id());
      assertThat(log.readAfter(Set.of("quiet", "busy"), 0, 10)).containsExactly(busier);
      assertThat(log.lastId()).isEqualTo(busier.id());
    }
  }

  @Test
  void countRetentionKeepsEachStreamExactlyAtItsLimit() throws Exception {
    try (RedisEventLog log = open(new Retention(5, Duration.ofHours(1)))) {
      for (int i = 0; i < 12; i++) {
        append(log, "t", "e" + i);
      }
      assertThat(raw.sync().xlen(keys.stream("t"))).isEqualTo(5);
      assertThat(raw.sync().hget(keys.dropped, "t"))
          .isEqualTo(Long.toString(log.readAfter(Set.of("t"), 0, 1).get(0).id() - 1));
    }
  }

  @Test
  void everyKeySharesOneHashSlot() throws Exception {
    try (RedisEventLog log = open(new Retention(5, Duration.ofHours(1)))) {
      append(log, "a", "x");
      append(log, "members/42", "y");
      List<String> all = raw.sync().keys("{" + prefix + "}*");
      assertThat(all).hasSizeGreaterThanOrEqualTo(4);
      // The slot Redis Cluster would put each key in (CRC16 of its hash tag).
      Set<Integer> slots = Set.copyOf(all.stream().map(SlotHash::getSlot).toList());
      assertThat(slots).hasSize(1);
    }
  }

  @Test
  void readingAfterAnIdNoLogCouldHaveAssignedReturnsNothing() throws Exception {
    try (RedisEventLog log = open(new Retention(5, Duration.ofHours(1)))) {
      StoredEvent event = append(log, "t", "x");
      assertThat(log.readAfter(Set.of("t"), Long.MAX_VALUE, 10)).isEmpty();
      assertThat(log.readAfter(Set.of("t"), event.id() - 1, 10)).containsExactly(event);
    }
  }

  @Test
  void buildFailsFastWhenRedisIsUnreachable() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    long start = System.nanoTime();
    assertThatThrownBy(
            () ->
                RedisEventLog.builder()
                    .uri("redis://127.0.0.1:" + port)
                    .commandTimeout(Duration.ofSeconds(1))
                    .build())
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("127.0.0.1:" + port);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
  }

  private RedisEventLog open(Retention retention) {
    return RedisEventLog.builder()
        .uri(TestRedis.URI)
        .keyPrefix(prefix)
        .retention(retention)
        .clock(clock)
        .build();
  }

  private static StoredEvent append(RedisEventLog log, String topic, String data) throws Exception {
    return log.append(List.of(Publication.of(topic, Event.of(data)))).get(10, SECONDS).get(0);
  }
}
