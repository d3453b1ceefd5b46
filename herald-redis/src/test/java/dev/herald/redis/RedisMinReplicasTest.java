package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.ReplicationUnconfirmedException;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code minReplicas}: an append is acknowledged only once enough replicas confirmed it ({@code
 * WAIT}), and otherwise reported as stored on the primary but unconfirmed. Each test runs its own
 * master and replica (redis-server children); the replica is paused with SIGSTOP.
 */
@Timeout(60)
class RedisMinReplicasTest {
  // Long enough for a replica to confirm on a machine loaded by other builds (a shorter one made
  // the acknowledged case flaky at a load average of 30); the paused case waits it out twice.
  private static final Duration WAIT = Duration.ofSeconds(3);

  @TempDir Path dir;

  private final List<AutoCloseable> resources = new ArrayList<>();
  private final String prefix = "min-replicas:";

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void appendsAreAcknowledgedOnceTheReplicaHasThem() throws Exception {
    RedisProcess master = kept(RedisProcess.started(dir));
    RedisProcess replica = kept(RedisProcess.startedReplicaOf(dir, master));
    awaitReplicaOnline(master);
    RedisEventLog log = open(master.uri(), 1);

    List<StoredEvent> stored = log.append(batch("a", "b")).get(10, SECONDS);
    AppendReceipt keyed =
        log.append(batch("c"), new IdempotencyKey("tenant", "k1", "f", Duration.ofHours(1)))
            .get(10, SECONDS);

    assertThat(stored).hasSize(2);
    assertThat(keyed.replayed()).isFalse();
    try (RawRedis raw = new RawRedis(replica.uri())) {
      // WAIT confirmed them, so the replica has every one without waiting any further.
      assertThat(raw.sync().xlen("{" + prefix + "}s:t")).isEqualTo(3);
    }
    assertThat(waitCalls(master)).as("one WAIT per append").isEqualTo(2);
  }

  @Test
  void appendsTheReplicaDoesNotConfirmAreReportedStoredButUnconfirmedAndAKeyedRetryConfirms()
      throws Exception {
    RedisProcess master = kept(RedisProcess.started(dir));
    RedisProcess replica = kept(RedisProcess.startedReplicaOf(dir, master));
    awaitReplicaOnline(master);
    RedisEventLog log = open(master.uri(), 1);
    log.append(batch("warm")).get(10, SECONDS);
    IdempotencyKey key = new IdempotencyKey("tenant", "k2", "f", Duration.ofHours(1));

    replica.pause();
    try {
      assertThatThrownBy(() -> log.append(batch("plain")).get(10, SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(ReplicationUnconfirmedException.class)
          .hasMessageContaining("stored on the primary")
          .hasMessageContaining("confirmed by 0 of 1 replicas")
          .hasMessageContaining("may be lost if the primary fails");
      ExecutionException keyed =
          org.junit.jupiter.api.Assertions.assertThrows(
              ExecutionException.class, () -> log.append(batch("keyed"), key).get(10, SECONDS));
      ReplicationUnconfirmedException unconfirmed =
          (ReplicationUnconfirmedException) keyed.getCause();
      assertThat(unconfirmed.confirmed()).isZero();
      assertThat(unconfirmed.required()).isEqualTo(1);
      // Stored on the primary all the same: readers there see both.
      assertThat(log.readAfter(Set.of("t"), 0, 10))
          .extracting(event -> event.event().data())
          .containsExactly("warm", "plain", "keyed");
    } finally {
      replica.resume();
    }

    AppendReceipt retry = log.append(batch("keyed"), key).get(10, SECONDS);
    assertThat(retry.replayed()).as("the retry stores nothing again").isTrue();
    assertThat(log.readAfter(Set.of("t"), 0, 10)).hasSize(3);
    try (RawRedis raw = new RawRedis(replica.uri())) {
      assertThat(raw.sync().xlen("{" + prefix + "}s:t"))
          .as("confirmed by the replica once the retry was acknowledged")
          .isEqualTo(3);
    }
  }

  @Test
  void withoutMinReplicasNoWaitIsSent() throws Exception {
    RedisProcess master = kept(RedisProcess.started(dir));
    RedisProcess replica = kept(RedisProcess.startedReplicaOf(dir, master));
    awaitReplicaOnline(master);
    RedisEventLog log = open(master.uri(), 0);

    replica.pause();
    try {
      assertThat(log.append(batch("x", "y")).get(10, SECONDS)).hasSize(2);
      assertThat(
              log.append(batch("z"), new IdempotencyKey("tenant", "k3", "f", Duration.ofHours(1)))
                  .get(10, SECONDS)
                  .ids())
          .hasSize(1);
    } finally {
      replica.resume();
    }
    assertThat(waitCalls(master)).isZero();
  }

  @Test
  void aTimeoutNotShorterThanTheCommandTimeoutIsRefused() {
    assertThatThrownBy(
            () ->
                RedisEventLog.builder()
                    .uri("redis://127.0.0.1:1")
                    .minReplicas(1)
                    .minReplicasTimeout(Duration.ofSeconds(2))
                    .commandTimeout(Duration.ofSeconds(2))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be shorter than commandTimeout");
    assertThatThrownBy(() -> RedisEventLog.builder().minReplicas(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static List<Publication> batch(String... data) {
    List<Publication> batch = new ArrayList<>();
    for (String d : data) {
      batch.add(Publication.of("t", Event.of(d)));
    }
    return batch;
  }

  /** {@code resource}, closed after the test (in reverse order). */
  private <T extends AutoCloseable> T kept(T resource) {
    resources.add(resource);
    return resource;
  }

  private RedisEventLog open(String uri, int minReplicas) {
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(uri)
            .keyPrefix(prefix)
            .retention(new Retention(1000, Duration.ofHours(1)))
            .commandTimeout(Duration.ofSeconds(5))
            .minReplicas(minReplicas)
            .minReplicasTimeout(WAIT)
            .build();
    return kept(log);
  }

  private static void awaitReplicaOnline(RedisProcess master) {
    RedisProcess.await(
        () -> master.info("replication").contains("state=online"), "the replica is in sync");
  }

  private static long waitCalls(RedisProcess master) {
    return master.commandStat("wait", "calls");
  }
}
