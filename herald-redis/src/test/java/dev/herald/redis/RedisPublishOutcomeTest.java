package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.StallWitness;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import io.lettuce.core.ScriptOutputType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An append whose answer Redis does not give in time (Redis hangs, or dies with the append in
 * flight) is answered only with what is known: stored (found by its request key), not stored, or
 * outcome unknown — never "not stored" for a batch that is in the stream. Each test runs its own
 * redis-server child, which it pauses (SIGSTOP) or kills.
 */
@Timeout(60)
class RedisPublishOutcomeTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(1);

  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void appendsWhoseAnswerWasLostInAStallAreFoundStoredOnceRedisAnswers() throws Exception {
    RedisProcess redis = start();
    RedisEventLog log = open(redis.uri());
    warmUp(log);
    StallWitness witness = witness(redis);

    redis.pause();
    List<Attempt> attempts = sendMix(log);
    witness.awaitStalledFor(TIMEOUT); // every append above has timed out
    redis.resume();

    Map<String, Long> stream = streamByData(log);
    assertThat(stream).as("every event stored once").hasSize(24);
    for (Attempt attempt : attempts) {
      assertThat(attempt.ids())
          .as("%s: found stored once Redis answered the lookup", attempt)
          .succeedsWithin(Duration.ofSeconds(10))
          .isEqualTo(attempt.data().stream().map(stream::get).toList());
    }
  }

  @Test
  void appendsStillUnansweredAtTheDeadlineAreReportedUnknownAndAKeyedRetryStoresNothingMore()
      throws Exception {
    RedisProcess redis = start();
    RedisEventLog log = open(redis.uri());
    warmUp(log);

    redis.pause();
    List<Attempt> attempts = sendMix(log);
    for (Attempt attempt : attempts) {
      assertThat(attempt.ids())
          .as("%s: Redis still hangs, so nobody can tell whether it was stored", attempt)
          .failsWithin(Duration.ofSeconds(10))
          .withThrowableOfType(ExecutionException.class)
          .havingCause()
          .isInstanceOf(PublishOutcomeUnknownException.class)
          .withMessageContaining("may or may not be stored");
    }
    redis.resume();

    awaitTrue(log::isAvailable, "Redis answers again");
    Map<String, Long> stream = streamByData(log);
    assertThat(stream).as("Redis ran every append once it resumed, once").hasSize(24);
    for (Attempt attempt : attempts) {
      if (attempt.key() == null) {
        continue;
      }
      AppendReceipt retry = log.append(attempt.batch(), attempt.key()).get(10, SECONDS);
      assertThat(retry.replayed()).as("%s retried with its key", attempt).isTrue();
      assertThat(retry.ids()).isEqualTo(attempt.data().stream().map(stream::get).toList());
    }
    assertThat(streamByData(log)).as("the retries stored nothing").isEqualTo(stream);
  }

  @Test
  void appendInFlightWhenRedisDiesForGoodIsReportedUnknown() throws Exception {
    RedisProcess redis = start();
    RedisEventLog log = open(redis.uri());
    warmUp(log);
    StallWitness witness = witness(redis);

    redis.pause();
    CompletableFuture<List<StoredEvent>> inFlight = log.append(batch("in-flight"));
    witness.awaitStalledFor(TIMEOUT); // the append was sent and is unanswered
    redis.kill();

    assertThat(inFlight)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(ExecutionException.class)
        .havingCause()
        .isInstanceOf(PublishOutcomeUnknownException.class);
  }

  @Test
  void appendAfterRedisDiedIsKnownNotStored() throws Exception {
    RedisProcess redis = start();
    RedisEventLog log = open(redis.uri());

    redis.kill();
    awaitTrue(() -> !log.commandsConnected(), "the log sees Redis is gone");
    long start = System.nanoTime();

    assertThat(log.append(batch("refused")))
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(ExecutionException.class)
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class)
        .withMessageContaining("could not append");
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("Redis never received it: no need to look for it")
        .isLessThan(TIMEOUT);
  }

  @Test
  void isUnavailableWhileRedisHangsAndAvailableOnceItAnswers() throws Exception {
    RedisProcess redis = start();
    RedisEventLog log = open(redis.uri());
    assertThat(log.isAvailable()).isTrue();

    redis.pause();
    awaitTrue(() -> !log.isAvailable(), "the log sees Redis hangs");
    redis.resume();

    awaitTrue(log::isAvailable, "the log sees Redis answers");
  }

  @Test
  void anAttemptThatReachesRedisTwiceStoresItsBatchOnce() throws Exception {
    RedisEventLog log = open(TestRedis.URI);
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      PublishCall call = call("twice");
      List<PublishCall.Outcome> first = answer(call, call.run(raw.async()).get(10, SECONDS));
      List<PublishCall.Outcome> second = answer(call, call.run(raw.async()).get(10, SECONDS));

      assertThat(first)
          .singleElement()
          .extracting(PublishCall.Outcome::kind)
          .isEqualTo(PublishCall.Outcome.Kind.STORED);
      assertThat(second).as("the second run answers the first's outcome").isEqualTo(first);
      assertThat(log.readAfter(Set.of("t"), 0, 10))
          .extracting(StoredEvent::id)
          .containsExactly(first.get(0).first());
    }
  }

  @Test
  void aGroupReachingRedisTwiceAnswersEveryAppendAsTheFirstTimeAndStoresOnce() throws Exception {
    RedisEventLog log = open(TestRedis.URI);
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      IdempotencyKey known = new IdempotencyKey("tenant", "known", "f", Duration.ofHours(1));
      List<Long> knownIds = log.append(batch("k0"), known).get(10, SECONDS).ids();
      Keys keys = new Keys(prefix);
      PublishCall call =
          PublishCall.of(
              layout(keys),
              List.of(
                  new PublishCall.Append(batch("a", "b"), null),
                  new PublishCall.Append(
                      batch("k1"), new IdempotencyKey("tenant", "fresh", "f", Duration.ofHours(1))),
                  new PublishCall.Append(batch("k0"), known),
                  new PublishCall.Append(
                      batch("other"),
                      new IdempotencyKey("tenant", "known", "g", Duration.ofHours(1)))),
              keys.request("test", 2),
              System.currentTimeMillis(),
              0,
              null,
              0,
              List.of(),
              "",
              15_000);

      List<PublishCall.Outcome> first = answer(call, call.run(raw.async()).get(10, SECONDS));
      List<PublishCall.Outcome> second = answer(call, call.run(raw.async()).get(10, SECONDS));

      assertThat(first)
          .extracting(PublishCall.Outcome::kind)
          .containsExactly(
              PublishCall.Outcome.Kind.STORED,
              PublishCall.Outcome.Kind.STORED,
              PublishCall.Outcome.Kind.REPLAY,
              PublishCall.Outcome.Kind.CONFLICT);
      assertThat(first.get(0).ids()).hasSize(2);
      assertThat(first.get(1).ids()).containsExactly(first.get(0).first() + 2);
      assertThat(first.get(2).ids()).isEqualTo(knownIds);
      assertThat(second).as("the second run answers the first's outcomes").isEqualTo(first);
      assertThat(log.readAfter(Set.of("t"), 0, 10))
          .extracting(e -> e.event().data())
          .as("stored once: the first run's three new events after the known one")
          .containsExactly("k0", "a", "b", "k1");
    }
  }

  @Test
  void anAttemptLookedForBeforeItReachedRedisNeverStores() throws Exception {
    RedisEventLog log = open(TestRedis.URI);
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      PublishCall call = call("late");
      String found =
          Script.RESOLVE
              .<String>run(
                  raw.async(), ScriptOutputType.VALUE, new String[] {call.request()}, "60000")
              .get(10, SECONDS);
      assertThat(found).as("not there: the lookup answers it was not stored").isNull();

      List<PublishCall.Outcome> late = answer(call, call.run(raw.async()).get(10, SECONDS));

      assertThat(late)
          .as("the late attempt stores nothing")
          .singleElement()
          .extracting(PublishCall.Outcome::kind)
          .isEqualTo(PublishCall.Outcome.Kind.FENCED);
      assertThat(log.readAfter(Set.of("t"), 0, 10)).isEmpty();
      assertThat(log.lastId()).isZero();
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** One append: its batch (topic t), its idempotency key or null, and its ids once answered. */
  private record Attempt(
      List<Publication> batch, IdempotencyKey key, CompletableFuture<List<Long>> ids) {
    List<String> data() {
      return batch.stream().map(p -> p.event().data()).toList();
    }

    @Override
    public String toString() {
      return (key == null ? "append " : "keyed append ") + data();
    }
  }

  /**
   * Sends 24 events while Redis may not answer: single events and batches of two, half of them with
   * an idempotency key.
   */
  private static List<Attempt> sendMix(RedisEventLog log) {
    List<Attempt> attempts = new ArrayList<>();
    int n = 0;
    for (int i = 0; i < 20; i++) {
      boolean pair = i % 5 == 4;
      List<Publication> batch = pair ? batch("e" + n++, "e" + n++) : batch("e" + n++);
      if (i % 2 == 0) {
        attempts.add(
            new Attempt(
                batch,
                null,
                log.append(batch)
                    .thenApply(events -> events.stream().map(StoredEvent::id).toList())));
      } else {
        IdempotencyKey key = new IdempotencyKey("tenant", "k" + i, "f" + i, Duration.ofHours(1));
        attempts.add(new Attempt(batch, key, log.append(batch, key).thenApply(AppendReceipt::ids)));
      }
    }
    assertThat(n).isEqualTo(24);
    return attempts;
  }

  /**
   * Publishes once with and once without a key (on another topic), so that Redis knows the scripts,
   * as it does after the first publishes: else the first call of each is answered NOSCRIPT, which a
   * stall turns into a timeout, and nothing is stored.
   */
  private static void warmUp(RedisEventLog log) throws Exception {
    List<Publication> warm = List.of(Publication.of("warm", Event.of("warm")));
    log.append(warm).get(10, SECONDS);
    log.append(warm, new IdempotencyKey("tenant", "warm", "f", Duration.ofHours(1)))
        .get(10, SECONDS);
  }

  private static List<Publication> batch(String... data) {
    List<Publication> batch = new ArrayList<>();
    for (String d : data) {
      batch.add(Publication.of("t", Event.of(d)));
    }
    return batch;
  }

  /** The stream of topic t: each event's data to its id; fails if any data is there twice. */
  private static Map<String, Long> streamByData(RedisEventLog log) {
    Map<String, Long> byData = new HashMap<>();
    for (StoredEvent event : log.readAfter(Set.of("t"), 0, 1000)) {
      Long twice = byData.put(event.event().data(), event.id());
      assertThat(twice).as("%s stored twice", event.event().data()).isNull();
    }
    return byData;
  }

  /** A publish call of one append, as the log sends it. */
  private PublishCall call(String data) {
    Keys keys = new Keys(prefix);
    return PublishCall.of(
        layout(keys),
        List.of(new PublishCall.Append(batch(data), null)),
        keys.request("test", 1),
        System.currentTimeMillis(),
        0,
        null,
        0,
        List.of(),
        "",
        15_000);
  }

  private static PublishCall.Layout layout(Keys keys) {
    return new PublishCall.Layout(
        keys, 1000, Duration.ofHours(1).toMillis(), 60_000, false, keys.nodes, keys.countPrefix);
  }

  /** What became of each append of a call, from its reply. */
  private static List<PublishCall.Outcome> answer(PublishCall call, List<Object> reply) {
    return call.outcomes(PublishCall.outcome(reply));
  }

  private RedisProcess start() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    return redis;
  }

  @Test
  void aReplyTheNodeCannotReadIsReportedAsAnUnknownOutcomeNotAsNothingStored() throws Exception {
    RedisEventLog direct = open(TestRedis.URI);
    CuttableProxy proxy = new CuttableProxy(Integer.parseInt(TestRedis.URI.replaceAll(".*:", "")));
    resources.add(proxy);
    RedisEventLog log = open(proxy.uri());
    // The script stores the event and answers "<ts> LF s <id> 1"; the node reads "q" instead.
    proxy.rewriteReplies("\ns ", "\nq ");

    ExecutionException failure =
        org.junit.jupiter.api.Assertions.assertThrows(
            ExecutionException.class, () -> log.append(batch("kept")).get(10, SECONDS));

    assertThat(failure.getCause())
        .isInstanceOf(PublishOutcomeUnknownException.class)
        .hasMessageContaining("cannot read")
        .hasMessageContaining("may or may not be stored");
    // And rightly so: Redis stored it.
    assertThat(direct.readAfter(Set.of("t"), 0, 10))
        .extracting(event -> event.event().data())
        .containsExactly("kept");
  }

  private StallWitness witness(RedisProcess redis) {
    StallWitness witness = new StallWitness(redis.uri());
    resources.add(witness);
    return witness;
  }

  private RedisEventLog open(String uri) {
    if (uri.equals(TestRedis.URI)) {
      // The shared Redis keeps what a test wrote: deleted after the log closed (closed in reverse).
      resources.add(() -> TestRedis.deleteKeys(TestRedis.URI, prefix));
    }
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(uri)
            .keyPrefix(prefix)
            .retention(new Retention(1000, Duration.ofHours(1)))
            .commandTimeout(TIMEOUT)
            .build();
    resources.add(log);
    return log;
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // polling a state, bounded
    }
  }

  /** A plain connection to the shared Redis, to run the scripts directly. */
}
