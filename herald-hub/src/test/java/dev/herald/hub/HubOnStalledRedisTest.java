package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.redis.RedisEventLog;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.StallWitness;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.StoredEvent;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hub on a Redis that hangs (its own redis-server child, paused with SIGSTOP) or dies: a publish
 * is answered 201 once stored, 503 {@code store_unavailable} only when nothing was published, and
 * 503 {@code outcome_unknown} where the hub cannot find out; {@code /readyz} says when Redis hangs.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HubOnStalledRedisTest {
  /** The hub's Redis command timeout (the default). */
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);

  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void publishesWhoseAnswerRedisLostAreAnsweredCreatedOnceRedisAnswersAndStoredOnce()
      throws Exception {
    RedisProcess redis = redis();
    HubFixture hub = hub(redis);
    warmUp(hub);
    StallWitness witness = new StallWitness(redis.uri());
    resources.add(witness);

    redis.pause();
    List<Attempt> attempts = sendMix(hub);
    witness.awaitStalledFor(COMMAND_TIMEOUT); // every publish above has lost Redis' answer
    redis.resume();

    Map<String, Long> stream = stream(redis);
    assertThat(stream).as("every event stored once").hasSize(24);
    for (Attempt attempt : attempts) {
      HttpResponse<String> answer = attempt.answer().get(20, TimeUnit.SECONDS);
      assertThat(answer.statusCode()).as("%s: %s", attempt, answer.body()).isEqualTo(201);
      assertThat(ids(answer)).isEqualTo(attempt.data().stream().map(stream::get).toList());
    }
  }

  @Test
  void publishesUnansweredUntilTheDeadlineAreAnsweredOutcomeUnknownAndAKeyedRetryPublishesOnce()
      throws Exception {
    RedisProcess redis = redis();
    HubFixture hub = hub(redis);
    warmUp(hub);

    redis.pause();
    List<Attempt> attempts = sendMix(hub);
    for (Attempt attempt : attempts) {
      HttpResponse<String> answer = attempt.answer().get(20, TimeUnit.SECONDS);
      assertThat(answer.statusCode()).as("%s: %s", attempt, answer.body()).isEqualTo(503);
      JsonNode body = HubFixture.json(answer.body());
      assertThat(body.get("error").asText()).isEqualTo("outcome_unknown");
      assertThat(body.get("message").asText())
          .contains("not known whether this was published")
          .contains(
              attempt.key() == null
                  ? "Send an Idempotency-Key with your publishes"
                  : "retry with the same Idempotency-Key");
      assertThat(answer.headers().firstValue("Retry-After")).isPresent();
    }
    redis.resume();

    awaitReady(hub, 200);
    Map<String, Long> stream = stream(redis);
    assertThat(stream).as("Redis ran every publish once it resumed, once").hasSize(24);
    for (Attempt attempt : attempts) {
      if (attempt.key() == null) {
        continue;
      }
      HttpResponse<String> retry = post(hub, attempt).get(20, TimeUnit.SECONDS);
      assertThat(retry.statusCode()).as("%s retried: %s", attempt, retry.body()).isEqualTo(201);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      assertThat(ids(retry)).isEqualTo(attempt.data().stream().map(stream::get).toList());
    }
    assertThat(stream(redis)).as("the retries published nothing").isEqualTo(stream);
  }

  @Test
  void publishAfterRedisDiedIsAnsweredNothingPublished() throws Exception {
    RedisProcess redis = redis();
    HubFixture hub = hub(redis);

    redis.kill();
    awaitReady(hub, 503);
    long start = System.nanoTime();
    HttpResponse<String> refused = hub.post("{\"topic\": \"t\", \"data\": \"refused\"}");

    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
    JsonNode body = HubFixture.json(refused.body());
    assertThat(body.get("error").asText()).isEqualTo("store_unavailable");
    assertThat(body.get("message").asText()).contains("nothing was published");
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("Redis never received it: known at once")
        .isLessThan(COMMAND_TIMEOUT);
  }

  @Test
  void readyzAnswers503WhileRedisHangsAnd200OnceItAnswersAgain() throws Exception {
    RedisProcess redis = redis();
    HubFixture hub = hub(redis);
    assertThat(hub.get("/readyz").statusCode()).isEqualTo(200);

    redis.pause();
    HttpResponse<String> hanging = awaitReady(hub, 503);
    JsonNode body = HubFixture.json(hanging.body());
    assertThat(body.get("error").asText()).isEqualTo("store_unavailable");
    assertThat(hanging.headers().firstValue("Retry-After")).isPresent();
    assertThat(hub.get("/healthz").statusCode()).as("the process is up").isEqualTo(200);
    redis.resume();

    awaitReady(hub, 200);
  }

  // ---------------------------------------------------------------------------------------------

  /** One publish request: its events' data (topic t), its Idempotency-Key or null, its answer. */
  private record Attempt(
      List<String> data, String key, CompletableFuture<HttpResponse<String>> answer) {
    String body() {
      List<String> events = new ArrayList<>();
      for (String d : data) {
        events.add("{\"topic\": \"t\", \"data\": \"" + d + "\"}");
      }
      return data.size() == 1 ? events.get(0) : "[" + String.join(", ", events) + "]";
    }

    @Override
    public String toString() {
      return (key == null ? "publish " : "keyed publish ") + data;
    }
  }

  /**
   * Sends 24 events at once: single publishes and batches of two, half of them with an
   * Idempotency-Key.
   */
  private List<Attempt> sendMix(HubFixture hub) {
    List<Attempt> attempts = new ArrayList<>();
    int n = 0;
    for (int i = 0; i < 20; i++) {
      List<String> data = i % 5 == 4 ? List.of("e" + n++, "e" + n++) : List.of("e" + n++);
      Attempt unsent = new Attempt(data, i % 2 == 0 ? null : "key-" + i, null);
      attempts.add(new Attempt(data, unsent.key(), post(hub, unsent)));
    }
    assertThat(n).isEqualTo(24);
    return attempts;
  }

  private static CompletableFuture<HttpResponse<String>> post(HubFixture hub, Attempt attempt) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(hub.uri("/events"))
            .timeout(Duration.ofSeconds(15))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(attempt.body(), StandardCharsets.UTF_8));
    if (attempt.key() != null) {
      request.header("Idempotency-Key", attempt.key());
    }
    return hub.client.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The ids a 201 names: {@code id}, or {@code ids} for a batch. */
  private static List<Long> ids(HttpResponse<String> created) throws Exception {
    JsonNode body = HubFixture.json(created.body());
    List<Long> ids = new ArrayList<>();
    if (body.has("id")) {
      ids.add(body.get("id").asLong());
    } else {
      body.get("ids").forEach(id -> ids.add(id.asLong()));
    }
    return ids;
  }

  /**
   * Publishes once with and once without a key (on another topic): Redis then knows the publish
   * scripts, as it does once a hub has published. (A script Redis does not know yet is answered
   * NOSCRIPT first; a stall turns that answer into a timeout, and nothing is stored.)
   */
  private static void warmUp(HubFixture hub) throws Exception {
    hub.publish("{\"topic\": \"warm\", \"data\": \"1\"}");
    hub.publish("{\"topic\": \"warm\", \"data\": \"2\"}", "Idempotency-Key", "warm");
  }

  /** Topic t as stored in Redis: each event's data to its id; fails if any is there twice. */
  private Map<String, Long> stream(RedisProcess redis) {
    try (RedisEventLog log = RedisEventLog.builder().uri(redis.uri()).keyPrefix(prefix).build()) {
      Map<String, Long> byData = new HashMap<>();
      for (StoredEvent event : log.readAfter(Set.of("t"), 0, 1000)) {
        Long twice = byData.put(event.event().data(), event.id());
        assertThat(twice).as("%s stored twice", event.event().data()).isNull();
      }
      return byData;
    }
  }

  /** Polls {@code /readyz} until it answers {@code status}; bounded (10 s). */
  private static HttpResponse<String> awaitReady(HubFixture hub, int status) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      HttpResponse<String> ready = hub.get("/readyz");
      if (ready.statusCode() == status) {
        return ready;
      }
      assertThat(System.nanoTime())
          .as("/readyz answered %s within 10 s; last: %s", status, ready.statusCode())
          .isLessThan(deadline);
      Thread.sleep(25); // polling a condition, bounded by the deadline
    }
  }

  private RedisProcess redis() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    return redis;
  }

  private HubFixture hub(RedisProcess redis) {
    HubFixture hub =
        new HubFixture(TestStores.on(Hub.builder(), redis.uri(), prefix).publishRate(0));
    resources.add(hub);
    return hub;
  }
}
