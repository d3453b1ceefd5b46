package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.redis.RedisEventLog;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.MutableClock;
import dev.herald.sqlite.SqliteEventLog;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubIdempotencyTest {
  private static final String EVENT = "{\"topic\": \"orders\", \"data\": {\"n\": 1}}";

  @TempDir Path dir;
  private final MutableClock clock = new MutableClock(Instant.now());

  /** The shared Redis's keys of this test, deleted after it. */
  private final String redisPrefix = TestRedis.newPrefix();

  @AfterEach
  void deleteRedisKeys() {
    TestRedis.deleteKeys(TestRedis.URI, redisPrefix);
  }

  private HubFixture hub(String store) {
    Hub.Builder builder = Hub.builder().idempotencyWindow(Duration.ofMinutes(10));
    if (store.equals("redis")) {
      builder.log(
          RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(redisPrefix).clock(clock).build());
    } else if (store.equals("sqlite")) {
      builder.log(SqliteEventLog.builder().path(dir.resolve("events.db")).clock(clock).build());
    } else {
      builder.log(MemoryEventLog.builder().clock(clock).build());
    }
    return new HubFixture(builder);
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite"})
  void retryWithTheSameKeyAnswersTheFirstIdAndPublishesNothing(String store) throws Exception {
    try (HubFixture f = hub(store);
        SseStream stream = f.subscribe("?topic=orders")) {
      HttpResponse<String> first = f.post(EVENT, "Idempotency-Key", "order-1");
      HttpResponse<String> retry = f.post(EVENT, "Idempotency-Key", "order-1");
      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
      assertThat(retry.statusCode()).isEqualTo(201);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      String id = HubFixture.json(first.body()).get("id").asText();
      assertThat(HubFixture.json(retry.body()).get("id").asText()).isEqualTo(id);

      String marker = f.publish("{\"topic\": \"orders\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(id);
      assertThat(stream.next().id()).hasValue(marker);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite"})
  void concurrentIdenticalRequestsPublishOnce(String store) throws Exception {
    try (HubFixture f = hub(store);
        SseStream stream = f.subscribe("?topic=orders")) {
      List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        answers.add(
            f.client.sendAsync(
                HttpRequest.newBuilder(f.uri("/events"))
                    .timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", "race")
                    .POST(HttpRequest.BodyPublishers.ofString(EVENT, StandardCharsets.UTF_8))
                    .build(),
                HttpResponse.BodyHandlers.ofString()));
      }
      Set<String> ids = new HashSet<>();
      int replayed = 0;
      for (CompletableFuture<HttpResponse<String>> answer : answers) {
        HttpResponse<String> response = answer.get(20, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(201);
        ids.add(HubFixture.json(response.body()).get("id").asText());
        replayed += response.headers().firstValue("Idempotent-Replayed").isPresent() ? 1 : 0;
      }
      assertThat(ids).hasSize(1);
      assertThat(replayed).isEqualTo(7);
      String marker = f.publish("{\"topic\": \"orders\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(ids.iterator().next());
      assertThat(stream.next().id()).hasValue(marker);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite", "redis"})
  void retryDifferingOnlyInPropertyOrderAndWhitespaceReplaysTheFirstAnswer(String store)
      throws Exception {
    try (HubFixture f = hub(store);
        SseStream stream = f.subscribe("?topic=orders");
        SseStream member = f.subscribe("?topic=members/ana")) {
      HttpResponse<String> first =
          f.post(
              "{\"topic\": \"orders\", \"type\": \"PAID\","
                  + " \"data\": {\"n\": 1, \"m\": {\"b\": [1, {\"y\": 2, \"x\": \"é\"}], \"a\": 2.5}}}",
              "Idempotency-Key",
              "order-1");
      HttpResponse<String> retry =
          f.post(
              "\n{\"data\":{\"m\":{\"a\":2.5,\"b\":[1,{\"x\":\"\\u00e9\",\"y\":2}]},\"n\":1},"
                  + "\t\"type\":\"PAID\",\"topic\":\"orders\"}\r\n",
              "Idempotency-Key",
              "order-1");
      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(retry.statusCode()).as(retry.body()).isEqualTo(201);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      String id = HubFixture.json(first.body()).get("id").asText();
      assertThat(HubFixture.json(retry.body()).get("id").asText()).isEqualTo(id);

      // The member form too: the Member-ID header and the reordered event are the same request.
      HttpResponse<String> memberFirst =
          f.post(
              "{\"event\": {\"type\": \"HI\", \"body\": {\"q\": 1, \"p\": 2}}}",
              "Idempotency-Key",
              "member-1",
              "Member-ID",
              "ana");
      HttpResponse<String> memberRetry =
          f.post(
              "{\"event\":{\"body\":{\"p\":2,\"q\":1},\"type\":\"HI\"}}",
              "Idempotency-Key",
              "member-1",
              "Member-ID",
              "ana");
      assertThat(memberRetry.statusCode()).as(memberRetry.body()).isEqualTo(201);
      assertThat(memberRetry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      String memberId = HubFixture.json(memberFirst.body()).get("id").asText();
      assertThat(HubFixture.json(memberRetry.body()).get("id").asText()).isEqualTo(memberId);

      String marker = f.publish("{\"topic\": \"orders\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(id);
      assertThat(stream.next().id()).hasValue(marker);
      String memberMarker = f.publishMember("ana", "MARKER").get("id").asText();
      assertThat(member.next().id()).hasValue(memberId);
      assertThat(member.next().id()).hasValue(memberMarker);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite", "redis"})
  void sameKeyWithAnotherBodyIs422Conflict(String store) throws Exception {
    try (HubFixture f = hub(store);
        SseStream stream = f.subscribe("?topic=orders")) {
      String id = f.publish(EVENT, "Idempotency-Key", "k");
      HttpResponse<String> conflict =
          f.post("{\"topic\": \"orders\", \"data\": 2}", "Idempotency-Key", "k");
      assertThat(conflict.statusCode()).isEqualTo(422);
      assertThat(HubFixture.json(conflict.body()).get("error").asText())
          .isEqualTo("idempotency_key_conflict");
      String marker = f.publish("{\"topic\": \"orders\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(id);
      assertThat(stream.next().id()).hasValue(marker);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite"})
  void afterTheWindowTheSameKeyPublishesAgain(String store) throws Exception {
    try (HubFixture f = hub(store)) {
      String first = f.publish(EVENT, "Idempotency-Key", "k");
      clock.advance(Duration.ofMinutes(9));
      assertThat(f.publish(EVENT, "Idempotency-Key", "k")).isEqualTo(first);
      clock.advance(Duration.ofMinutes(2));
      String later = f.publish(EVENT, "Idempotency-Key", "k");
      assertThat(Long.parseLong(later)).isGreaterThan(Long.parseLong(first));
    }
  }

  @Test
  void batchRetryAnswersTheSameIds() throws Exception {
    try (HubFixture f = hub("sqlite")) {
      String batch = "[" + EVENT + "," + EVENT + "]";
      HttpResponse<String> first = f.post(batch, "Idempotency-Key", "b");
      HttpResponse<String> retry = f.post(batch, "Idempotency-Key", "b");
      assertThat(first.statusCode()).isEqualTo(201);
      JsonNode ids = HubFixture.json(first.body()).get("ids");
      assertThat(ids.size()).isEqualTo(2);
      assertThat(HubFixture.json(retry.body()).get("ids")).isEqualTo(ids);
      assertThat(HubFixture.json(retry.body()).get("reached").toString()).isEqualTo("[0,0]");
    }
  }

  @Test
  void invalidKeysAre400() throws Exception {
    try (HubFixture f = hub("memory")) {
      for (String key : List.of("has space", "x".repeat(256), "a\"b c")) {
        HttpResponse<String> answer = f.post(EVENT, "Idempotency-Key", key);
        assertThat(answer.statusCode()).as(key).isEqualTo(400);
        assertThat(HubFixture.json(answer.body()).get("error").asText())
            .isEqualTo("idempotency_key_invalid");
      }
      assertThat(f.post(EVENT, "Idempotency-Key", "x".repeat(255)).statusCode()).isEqualTo(201);
    }
  }

  @Test
  void keysAreScopedPerTokenSubject() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      String alice = Tokens.hs256(Tokens.claims("alice", List.of("*"), List.of("*")).build());
      String bob = Tokens.hs256(Tokens.claims("bob", List.of("*"), List.of("*")).build());
      String a1 = f.publish(EVENT, "Idempotency-Key", "k", "Authorization", "Bearer " + alice);
      String b1 = f.publish(EVENT, "Idempotency-Key", "k", "Authorization", "Bearer " + bob);
      String a2 = f.publish(EVENT, "Idempotency-Key", "k", "Authorization", "Bearer " + alice);
      assertThat(b1).isNotEqualTo(a1);
      assertThat(a2).isEqualTo(a1);
    }
  }
}
