package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Idempotency keys on Redis: one atomic script per keyed append, shared by every node. */
@Timeout(60)
class RedisIdempotencyTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final Keys keys = new Keys(prefix);

  @TempDir Path dir;

  @Test
  void aRetriedKeyAnswersTheFirstIdsStoresNothingAndAnnouncesNothing() throws Exception {
    BlockingQueue<String> notifications = subscribeRaw(keys.channel("t"));
    RedisEventLog a = open(TestRedis.URI);
    RedisEventLog b = open(TestRedis.URI);
    Announcements heardByA = new Announcements();
    a.listener(heardByA);
    a.watch("t").join();

    AppendReceipt first =
        a.append(batch("x", "y"), key("k", "f", Duration.ofMinutes(5))).get(10, SECONDS);
    assertThat(first.replayed()).isFalse();
    assertThat(first.ids()).hasSize(2);
    assertThat(first.ids().get(1)).isEqualTo(first.ids().get(0) + 1);
    // The retry reaches the other node: the key is shared through Redis.
    AppendReceipt retried =
        b.append(batch("x", "y"), key("k", "f", Duration.ofMinutes(5))).get(10, SECONDS);
    assertThat(retried).isEqualTo(new AppendReceipt(first.ids(), true));
    long later = a.append(batch("z")).get(10, SECONDS).get(0).id();

    assertThat(a.readAfter(Set.of("t"), 0, 10))
        .extracting(StoredEvent::id)
        .containsExactly(first.ids().get(0), first.ids().get(1), later);
    heardByA.awaitId(later);
    assertThat(heardByA.ids()).containsExactly(first.ids().get(0), first.ids().get(1), later);
    List<Long> published = new ArrayList<>();
    while (published.size() < 3) {
      String payload = notifications.poll(10, SECONDS);
      assertThat(payload).as("notification after %s events", published.size()).isNotNull();
      Wire.notifications(payload).forEach(event -> published.add(event.id()));
    }
    assertThat(published).containsExactly(first.ids().get(0), first.ids().get(1), later);
    assertThat(notifications.poll(200, TimeUnit.MILLISECONDS)).as("the replay published").isNull();

    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      String stored = raw.sync().get(keys.idempotency("tenant", "k"));
      assertThat(stored).endsWith("\n" + first.ids().get(0) + "\n2\nf");
      assertThat(raw.sync().pttl(keys.idempotency("tenant", "k")))
          .as("Redis forgets the key after its window")
          .isBetween(1L, Duration.ofMinutes(5).toMillis());
    }
  }

  @Test
  void identicalKeyedAppendsRacingOnTwoNodesStoreOnce() throws Exception {
    RedisEventLog a = open(TestRedis.URI);
    RedisEventLog b = open(TestRedis.URI);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      for (int round = 0; round < 10; round++) {
        IdempotencyKey key = key("race" + round, "f", Duration.ofMinutes(5));
        CountDownLatch go = new CountDownLatch(1);
        List<Future<AppendReceipt>> results = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          RedisEventLog node = i % 2 == 0 ? a : b;
          results.add(
              pool.submit(
                  () -> {
                    go.await(10, SECONDS);
                    return node.append(batch("once"), key).get(10, SECONDS);
                  }));
        }
        go.countDown();
        Set<List<Long>> ids = new HashSet<>();
        int fresh = 0;
        for (Future<AppendReceipt> result : results) {
          AppendReceipt appended = result.get(20, SECONDS);
          ids.add(appended.ids());
          fresh += appended.replayed() ? 0 : 1;
        }
        assertThat(fresh).as("round %s: stored once", round).isEqualTo(1);
        assertThat(ids).as("round %s: one answer", round).hasSize(1);
      }
      assertThat(b.readAfter(Set.of("t"), 0, 100)).hasSize(10);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aKeyReusedForAnotherRequestConflictsOnAnyNodeAndStoresNothing() throws Exception {
    BlockingQueue<String> notifications = subscribeRaw(keys.channel("t"));
    RedisEventLog a = open(TestRedis.URI);
    RedisEventLog b = open(TestRedis.URI);
    AppendReceipt first =
        a.append(batch("x"), key("k", "f1", Duration.ofMinutes(5))).get(10, SECONDS);
    assertThat(notifications.poll(10, SECONDS)).isNotNull();

    CompletableFuture<AppendReceipt> conflict =
        b.append(batch("y"), key("k", "f2", Duration.ofMinutes(5)));

    assertThat(conflict)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(IdempotencyConflictException.class)
        .withMessageContaining("\"k\"")
        .withMessageContaining("different request");
    assertThat(a.readAfter(Set.of("t"), 0, 10))
        .extracting(StoredEvent::id)
        .containsExactlyElementsOf(first.ids());
    assertThat(a.lastId()).isEqualTo(first.ids().get(0));
    assertThat(notifications.poll(200, TimeUnit.MILLISECONDS))
        .as("the conflict published")
        .isNull();
    // The key still belongs to the first request.
    assertThat(b.append(batch("x"), key("k", "f1", Duration.ofMinutes(5))).get(10, SECONDS))
        .isEqualTo(new AppendReceipt(first.ids(), true));
  }

  @Test
  void aKeyPastItsWindowIsForgottenByRedisAndPublishesAgain() throws Exception {
    RedisEventLog log = open(TestRedis.URI);
    IdempotencyKey key = key("short", "f", Duration.ofMillis(300));
    AppendReceipt first = log.append(batch("x"), key).get(10, SECONDS);
    // Fast enough to be inside the window on a loaded machine only most of the time: not asserted.
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      String name = keys.idempotency("tenant", "short");
      awaitTrue(() -> raw.sync().exists(name) == 0, "Redis expired the key");
    }

    AppendReceipt again = log.append(batch("x"), key).get(10, SECONDS);

    assertThat(again.replayed()).isFalse();
    assertThat(again.ids().get(0)).isGreaterThan(first.ids().get(0));
    assertThat(log.readAfter(Set.of("t"), 0, 10)).hasSize(2);
  }

  @Test
  void longScopesAreHashedInTheKeyNameAndStayApart() throws Exception {
    RedisEventLog log = open(TestRedis.URI);
    String scope = "s".repeat(300);
    IdempotencyKey one = new IdempotencyKey(scope + "1", "k", "f", Duration.ofMinutes(5));
    IdempotencyKey two = new IdempotencyKey(scope + "2", "k", "f", Duration.ofMinutes(5));
    assertThat(keys.idempotency(one.scope(), "k")).hasSizeLessThan(150).contains("\t");

    AppendReceipt first = log.append(batch("x"), one).get(10, SECONDS);
    AppendReceipt other = log.append(batch("x"), two).get(10, SECONDS);

    assertThat(first.replayed()).isFalse();
    assertThat(other.replayed()).isFalse();
    assertThat(log.append(batch("x"), one).get(10, SECONDS))
        .isEqualTo(new AppendReceipt(first.ids(), true));
  }

  @Test
  void whileRedisIsUnreachableAKeyedAppendFailsAndNeitherStoresNorRemembers() throws Exception {
    RedisProcess server = redis.closeAfter(new RedisProcess(dir, false));
    server.start();
    CuttableProxy proxy =
        redis.closeAfter(new CuttableProxy(Integer.parseInt(server.uri().replaceAll(".*:", ""))));
    RedisEventLog log = open(proxy.uri());
    IdempotencyKey key = key("k", "f", Duration.ofMinutes(5));

    proxy.cut();
    awaitTrue(() -> !log.isAvailable() && !log.commandsConnected(), "the log sees Redis is down");
    long start = System.nanoTime();
    assertThat(log.append(batch("x"), key))
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class)
        .withMessageContaining("could not append");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

    proxy.restore();
    awaitTrue(log::isAvailable, "the log reconnected");
    assertThat(log.readAfter(Set.of("t"), 0, 10)).as("nothing stored").isEmpty();
    assertThat(log.lastId()).isZero();
    AppendReceipt appended = log.append(batch("x"), key).get(10, SECONDS);
    assertThat(appended.replayed()).as("the key was not remembered").isFalse();
  }

  // ---------------------------------------------------------------------------------------------

  private RedisEventLog open(String uri) {
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(uri)
            .keyPrefix(prefix)
            .retention(new Retention(1000, Duration.ofHours(1)))
            .commandTimeout(Duration.ofSeconds(2))
            .build();
    redis.closeAfter(log);
    return log;
  }

  private static List<Publication> batch(String... data) {
    List<Publication> batch = new ArrayList<>();
    for (String d : data) {
      batch.add(Publication.of("t", Event.of(d)));
    }
    return batch;
  }

  private static IdempotencyKey key(String key, String fingerprint, Duration window) {
    return new IdempotencyKey("tenant", key, fingerprint, window);
  }

  /** Every message Redis publishes on {@code channel}, seen by a plain subscriber. */
  private BlockingQueue<String> subscribeRaw(String channel) {
    RawRedis raw = redis.closeAfter(new RawRedis(TestRedis.URI));
    BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    StatefulRedisPubSubConnection<String, String> pubSub = redis.closeAfter(raw.pubSub());
    pubSub.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            messages.add(message);
          }
        });
    pubSub.sync().subscribe(channel);
    return messages;
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // polling a state, bounded
    }
  }

  /** A plain Lettuce connection, to look at the keys. */
}
