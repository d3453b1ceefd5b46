package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.MutableClock;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.spi.CursorKey;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Device cursors on Redis, shared by every node: newest value wins, gone after the age. */
@Timeout(60)
class RedisCursorsTest {
  private static final Retention RETENTION = new Retention(100, Duration.ofMinutes(10));

  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final Keys keys = new Keys(prefix);
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-15T10:00:00Z"));

  @TempDir Path dir;

  @Test
  void aCursorSavedOnOneNodeIsReadOnAnotherAndExpiresInRedisWithTheRetentionAge() throws Exception {
    RedisEventLog a = open(TestRedis.URI, clock);
    RedisEventLog b = open(TestRedis.URI, clock);
    CursorKey phone = CursorKey.of("phone", Set.of("b", "a"));

    a.saveCursors(Map.of(phone, 42L, CursorKey.of("phone", Set.of("a")), 7L)).get(10, SECONDS);

    assertThat(b.cursor(CursorKey.of("phone", Set.of("a", "b")))).hasValue(42L);
    assertThat(b.cursor(CursorKey.of("phone", Set.of("a")))).hasValue(7L);
    assertThat(b.cursor(CursorKey.of("tablet", Set.of("a")))).isEmpty();
    String name = keys.cursor(phone);
    assertThat(name).isEqualTo("{" + prefix + "}c:phone\na\nb");
    RedisClient client = RedisClient.create(TestRedis.URI);
    try (StatefulRedisConnection<String, String> raw = client.connect()) {
      assertThat(raw.sync().get(name)).isEqualTo("42\n" + clock.millis());
      assertThat(raw.sync().pttl(name)).isBetween(1L, Duration.ofMinutes(10).toMillis());
    } finally {
      client.shutdown();
    }
  }

  @Test
  void outOfOrderSavesFromTwoNodesKeepTheNewestCursor() throws Exception {
    RedisEventLog a = open(TestRedis.URI, clock);
    RedisEventLog b = open(TestRedis.URI, clock);
    CursorKey phone = CursorKey.of("phone", Set.of("a"));
    CursorKey laptop = CursorKey.of("laptop", Set.of("a"));

    // The device moved from A to B; A's last save arrives after B's newer one.
    b.saveCursors(Map.of(phone, 50L, laptop, 10L)).get(10, SECONDS);
    a.saveCursors(Map.of(phone, 40L, laptop, 11L)).get(10, SECONDS);

    assertThat(a.cursor(phone)).hasValue(50L);
    assertThat(b.cursor(laptop)).hasValue(11L);
  }

  @Test
  void anExpiredCursorNoLongerWinsAgainstALowerOne() throws Exception {
    RedisEventLog log = open(TestRedis.URI, clock);
    CursorKey phone = CursorKey.of("phone", Set.of("a"));
    log.saveCursors(Map.of(phone, 50L)).get(10, SECONDS);
    clock.advance(Duration.ofMinutes(10));
    assertThat(log.cursor(phone)).as("saved exactly the retention age ago").isEmpty();

    log.saveCursors(Map.of(phone, 3L)).get(10, SECONDS);

    assertThat(log.cursor(phone)).hasValue(3L);
  }

  @Test
  void aCursorExpiresInRedisAfterTheRetentionAge() throws Exception {
    RedisEventLog log =
        track(
            RedisEventLog.builder()
                .uri(TestRedis.URI)
                .keyPrefix(prefix)
                .retention(new Retention(100, Duration.ofMillis(300)))
                .build());
    CursorKey phone = CursorKey.of("phone", Set.of("a"));
    log.saveCursors(Map.of(phone, 5L)).get(10, SECONDS);

    RedisClient client = RedisClient.create(TestRedis.URI);
    try (StatefulRedisConnection<String, String> raw = client.connect()) {
      awaitTrue(() -> raw.sync().exists(keys.cursor(phone)) == 0, "Redis expired the cursor");
    } finally {
      client.shutdown();
    }
    assertThat(log.cursor(phone)).isEmpty();
  }

  @Test
  void manyCursorsAndLongTopicSetsAreSavedInOneCall() throws Exception {
    RedisEventLog log = open(TestRedis.URI, clock);
    TreeSet<String> many = new TreeSet<>();
    for (int i = 0; i < 30; i++) {
      many.add("a-rather-long-topic-" + i); // 30 of them: over 600 characters
    }
    Map<CursorKey, Long> cursors = new HashMap<>();
    for (int i = 0; i < Cursors.CHUNK * 2 + 7; i++) {
      cursors.put(CursorKey.of("device-" + i, Set.of("a")), 1000L + i);
    }
    CursorKey wide = CursorKey.of("device-0", many);
    cursors.put(wide, 99L);
    assertThat(keys.cursor(wide)).hasSizeLessThan(150).contains("\t");

    log.saveCursors(cursors).get(10, SECONDS);

    assertThat(log.cursor(wide)).hasValue(99L);
    assertThat(log.cursor(CursorKey.of("device-0", Set.of("a")))).hasValue(1000L);
    int last = Cursors.CHUNK * 2 + 6;
    assertThat(log.cursor(CursorKey.of("device-" + last, Set.of("a")))).hasValue(1000L + last);
    assertThat(
            log.cursor(
                CursorKey.of("device-0", new TreeSet<>(many.headSet("a-rather-long-topic-5")))))
        .isEmpty();
  }

  @Test
  void whileRedisIsUnreachableSavingAndReadingFailWithStoreUnavailable() throws Exception {
    RedisProcess server = redis.closeAfter(new RedisProcess(dir, false));
    server.start();
    CuttableProxy proxy =
        redis.closeAfter(new CuttableProxy(Integer.parseInt(server.uri().replaceAll(".*:", ""))));
    RedisEventLog log = open(proxy.uri(), clock);
    CursorKey phone = CursorKey.of("phone", Set.of("a"));
    log.saveCursors(Map.of(phone, 5L)).get(10, SECONDS);

    proxy.cut();
    awaitTrue(() -> !log.isAvailable(), "the log sees Redis is down");

    assertThat(log.saveCursors(Map.of(phone, 6L)))
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class)
        .withMessageContaining("could not save device cursors");
    long start = System.nanoTime();
    assertThatThrownBy(() -> log.cursor(phone))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessageContaining("could not read a device cursor");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

    proxy.restore();
    awaitTrue(log::isAvailable, "the log reconnected");
    assertThat(log.cursor(phone)).as("the failed save stored nothing").hasValue(5L);
  }

  // ---------------------------------------------------------------------------------------------

  private RedisEventLog open(String uri, Clock clock) {
    return track(
        RedisEventLog.builder()
            .uri(uri)
            .keyPrefix(prefix)
            .retention(RETENTION)
            .clock(clock)
            .commandTimeout(Duration.ofSeconds(2))
            .build());
  }

  private RedisEventLog track(RedisEventLog log) {
    return redis.closeAfter(log);
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // polling a state, bounded
    }
  }
}
