package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code GET /stats}: the console's numbers as JSON, counted from what really happened. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StatsEndpointTest {
  private static JsonNode stats(HubFixture f, String... headers) throws Exception {
    HttpResponse<String> answer = f.get("/stats", headers);
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    assertThat(answer.headers().firstValue("Content-Type"))
        .hasValue("application/json; charset=utf-8");
    return HubFixture.json(answer.body());
  }

  @Test
  void countsStreamsPublishesDeliveriesAndRefusalsByReason() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder())) {
      JsonNode before = stats(f);
      assertThat(before.get("streams").asInt()).isZero();
      assertThat(before.get("published").asLong()).isZero();
      assertThat(before.get("refusals").size()).isZero();
      assertThat(before.get("store").get("log").asText()).isEqualTo("MemoryEventLog");
      assertThat(before.get("store").get("available").asBoolean()).isTrue();
      assertThat(before.get("shuttingDown").asBoolean()).isFalse();

      try (SseStream one = f.subscribe("?topic=s");
          SseStream two = f.subscribe("?topic=s")) {
        for (int i = 0; i < 3; i++) {
          f.publish("{\"topic\": \"s\", \"data\": " + i + "}");
        }
        one.next(3);
        two.next(3);
        assertThat(f.get("/nope").statusCode()).isEqualTo(404);
        assertThat(f.get("/nope").statusCode()).isEqualTo(404);
        assertThat(f.post("{\"topic\": \"s\"}").statusCode()).isEqualTo(400);

        JsonNode now = stats(f);
        assertThat(now.get("streams").asInt()).isEqualTo(2);
        // The two streams, this request's connection, and the client's pooled ones.
        assertThat(now.get("connections").asInt()).isGreaterThanOrEqualTo(3);
        assertThat(now.get("published").asLong()).isEqualTo(3);
        assertThat(now.get("delivered").asLong()).isEqualTo(6);
        assertThat(now.get("refusals").get("not_found").asLong()).isEqualTo(2);
        assertThat(now.get("refusals").get("data_missing").asLong()).isEqualTo(1);
        assertThat(now.get("refusals").size()).isEqualTo(2);
        assertThat(now.get("publishesPerSecond").asDouble()).isPositive();
        assertThat(now.get("deliveriesPerSecond").asDouble())
            .isEqualTo(
                2 * now.get("publishesPerSecond").asDouble(),
                org.assertj.core.data.Offset.offset(0.02));
        assertThat(now.get("rateWindowSeconds").asDouble()).isPositive();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (stats(f).get("streams").asInt() != 0) {
        assertThat(System.nanoTime())
            .as("the closed streams are no longer counted")
            .isLessThan(deadline);
        Thread.sleep(20); // polling a condition, bounded by the deadline
      }
    }
  }

  @Test
  void withAKeyItNeedsAValidTokenOfAnySubjectAndNamesNoTopic() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      HttpResponse<String> anonymous = f.get("/stats");
      assertThat(anonymous.statusCode()).isEqualTo(401);
      JsonNode refusal = HubFixture.json(anonymous.body());
      assertThat(refusal.get("error").asText()).isEqualTo("token_missing");
      assertThat(refusal.get("message").asText()).isNotBlank();
      assertThat(refusal.size()).isEqualTo(2);
      assertThat(anonymous.headers().firstValue("WWW-Authenticate"))
          .hasValue("Bearer realm=\"herald\"");

      HttpResponse<String> forged =
          f.get(
              "/stats",
              "Authorization",
              "Bearer "
                  + Tokens.hs256(
                      "another-secret-that-is-long-enough-for-hs256",
                      Tokens.claims("x", List.of(), List.of()).build()));
      assertThat(forged.statusCode()).isEqualTo(401);
      assertThat(HubFixture.json(forged.body()).get("error").asText()).isEqualTo("bad_signature");

      // A token with no rights at all still reads the numbers: they name no topic.
      String token = Tokens.hs256(Tokens.claims("ops", List.of(), List.of()).build());
      JsonNode stats = stats(f, "Authorization", "Bearer " + token);
      assertThat(stats.get("refusals").get("token_missing").asLong()).isEqualTo(1);
      assertThat(stats.get("refusals").get("bad_signature").asLong()).isEqualTo(1);
      assertThat(stats.toString()).doesNotContain(token).doesNotContain("ops");
    }
  }

  @Test
  void fromAnOriginOutsideTheCorsAllowlistItIs403() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().corsOrigins(List.of("https://app.example")))) {
      HttpResponse<String> foreign = f.get("/stats", "Origin", "https://evil.example");
      assertThat(foreign.statusCode()).isEqualTo(403);
      assertThat(HubFixture.json(foreign.body()).get("error").asText())
          .isEqualTo("origin_not_allowed");
      assertThat(f.get("/stats", "Origin", "https://app.example").statusCode()).isEqualTo(200);
    }
  }
}
