package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.server.Broker;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.PublishReceipt;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Appends that arrive while a publish call is in flight go together in the next call: one script
 * call (and, with {@code minReplicas}, one {@code WAIT}) for the group, each append still answered
 * on its own (stored, replayed, conflict). A presence linked to the log counts reach in that same
 * call. Each test runs its own redis-server children, paused with SIGSTOP to hold a call in flight
 * so that the next group forms deterministically; the calls are counted with {@code INFO
 * commandstats}.
 */
@Timeout(60)
class RedisGroupCommitTest {
  private static final String PREFIX = "group:";

  @TempDir Path dir;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void appendsArrivingWhileACallIsInFlightGoInOneCallEachAnsweredOnItsOwn() throws Exception {
    RedisProcess redis = kept(RedisProcess.started(dir));
    RedisEventLog log = open(redis.uri(), 0);
    IdempotencyKey first = key("first", "f");
    List<Long> firstIds = log.append(batch("t1", "k-first"), first).get(10, SECONDS).ids();
    resetStats(redis);

    redis.pause();
    CompletableFuture<List<StoredEvent>> inFlight = log.append(batch("t1", "held"));
    List<CompletableFuture<List<StoredEvent>>> plain = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      plain.add(log.append(batch(i % 2 == 0 ? "t1" : "t2", "p" + i, "q" + i)));
    }
    CompletableFuture<AppendReceipt> replay = log.append(batch("t1", "k-first"), first);
    CompletableFuture<AppendReceipt> conflict = log.append(batch("t1", "other"), key("first", "x"));
    CompletableFuture<AppendReceipt> fresh = log.append(batch("t2", "k-new"), key("new", "f"));
    redis.resume();

    assertThat(inFlight.get(10, SECONDS)).hasSize(1);
    Set<Long> ids = new HashSet<>(inFlight.get().stream().map(StoredEvent::id).toList());
    for (CompletableFuture<List<StoredEvent>> append : plain) {
      List<StoredEvent> events = append.get(10, SECONDS);
      assertThat(events).hasSize(2);
      assertThat(events.get(1).id())
          .as("a batch's ids are consecutive")
          .isEqualTo(events.get(0).id() + 1);
      events.forEach(event -> assertThat(ids.add(event.id())).as("ids are unique").isTrue());
    }
    assertThat(replay.get(10, SECONDS).replayed()).isTrue();
    assertThat(replay.get().ids()).isEqualTo(firstIds);
    assertThat(conflict)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(ExecutionException.class)
        .withCauseInstanceOf(IdempotencyConflictException.class);
    assertThat(fresh.get(10, SECONDS).replayed()).isFalse();

    long calls = scriptCalls(redis); // before the read below, which runs a script too
    assertThat(log.readAfter(Set.of("t1", "t2"), 0, 1000))
        .as("every event stored once, in id order")
        .hasSize(1 + 1 + 40 + 1)
        .extracting(StoredEvent::id)
        .isSorted()
        .doesNotHaveDuplicates();
    assertThat(calls).as("the append in flight, then one call for the 23 that waited").isEqualTo(2);
    assertThat((List<?>) redis.call("KEYS", "{" + PREFIX + "}r:*"))
        .as("one request key per call (the first append's, then the group's), not per append")
        .hasSize(3);
  }

  @Test
  void aGroupWaitsForItsReplicasOnce() throws Exception {
    RedisProcess master = kept(RedisProcess.started(dir));
    kept(RedisProcess.startedReplicaOf(dir, master));
    awaitReplicaOnline(master);
    RedisEventLog log = open(master.uri(), 1);
    log.append(batch("t1", "warm")).get(10, SECONDS);
    resetStats(master);

    master.pause();
    List<CompletableFuture<List<StoredEvent>>> appends = new ArrayList<>();
    for (int i = 0; i < 11; i++) {
      appends.add(log.append(batch("t1", "e" + i)));
    }
    master.resume();

    for (CompletableFuture<List<StoredEvent>> append : appends) {
      assertThat(append.get(10, SECONDS)).hasSize(1);
    }
    assertThat(scriptCalls(master)).isEqualTo(2);
    assertThat(stat(master, "wait")).as("one WAIT per call, not per append").isEqualTo(2);
  }

  @Test
  void aLinkedPresenceCountsReachInsideThePublishCall() throws Exception {
    RedisProcess redis = kept(RedisProcess.started(dir));
    Member a = new Member(redis.uri());
    Member b = new Member(redis.uri());
    b.broker.subscribe(Set.of("news"), Position.live(), new RecordingSink());
    b.broker.subscribe(Set.of("news"), Position.live(), new RecordingSink());
    RedisProcess.await(
        () -> a.publish("news").reached().get(0) == 2, "b's subscriptions are counted");
    resetStats(redis);

    for (int i = 0; i < 19; i++) {
      assertThat(a.publish("news").reached()).containsExactly(2);
    }
    assertThat(a.publish("nobody-listens").reached()).containsExactly(0);

    // Without the link each publish costs a second call (presence_reach.lua): 40. The other node
    // may still write its count once more (it writes shortly after its subscriptions change).
    assertThat(scriptCalls(redis))
        .as("one script call per publish: reach costs none of its own")
        .isBetween(20L, 21L);
  }

  /** A node whose presence counts reach through its log's publish calls. */
  private final class Member implements AutoCloseable {
    final Broker broker;

    Member(String uri) {
      RedisEventLog log =
          RedisEventLog.builder()
              .uri(uri)
              .keyPrefix(PREFIX)
              .retention(new Retention(1000, Duration.ofHours(1)))
              .build();
      RedisPresence presence =
          RedisPresence.builder()
              .uri(uri)
              .keyPrefix(PREFIX)
              .log(log)
              // No heartbeat during the counted publishes.
              .heartbeat(Duration.ofSeconds(60))
              .staleAfter(Duration.ofSeconds(120))
              .build();
      broker = Broker.builder().log(log).presence(presence).heartbeat(Duration.ZERO).build();
      resources.add(this);
    }

    PublishReceipt publish(String topic) {
      try {
        return broker
            .publish(List.of(Publication.of(topic, Event.of("x"))), Optional.empty())
            .get(10, SECONDS);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public void close() {
      broker.close();
    }
  }

  private static IdempotencyKey key(String key, String fingerprint) {
    return new IdempotencyKey("tenant", key, fingerprint, Duration.ofHours(1));
  }

  private static List<Publication> batch(String topic, String... data) {
    List<Publication> batch = new ArrayList<>();
    for (String d : data) {
      batch.add(Publication.of(topic, Event.of(d)));
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
            .keyPrefix(PREFIX)
            .retention(new Retention(1000, Duration.ofHours(1)))
            .minReplicas(minReplicas)
            .minReplicasTimeout(Duration.ofSeconds(3))
            .commandTimeout(Duration.ofSeconds(5))
            .build();
    return kept(log);
  }

  /** Publish script calls since the last reset: by SHA-1, or in full after NOSCRIPT. */
  private static long scriptCalls(RedisProcess redis) {
    return stat(redis, "evalsha") - failed(redis, "evalsha") + stat(redis, "eval");
  }

  private static void resetStats(RedisProcess redis) {
    redis.call("CONFIG", "RESETSTAT");
  }

  private static long stat(RedisProcess redis, String command) {
    return redis.commandStat(command, "calls");
  }

  private static long failed(RedisProcess redis, String command) {
    return redis.commandStat(command, "rejected_calls")
        + redis.commandStat(command, "failed_calls");
  }

  private static void awaitReplicaOnline(RedisProcess master) {
    RedisProcess.await(
        () -> master.info("replication").contains("state=online"), "the replica is in sync");
  }
}
