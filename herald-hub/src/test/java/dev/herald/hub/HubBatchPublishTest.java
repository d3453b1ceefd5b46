package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubBatchPublishTest {
  @Test
  void jsonArrayIsStoredInOrderAndAnsweredWithEveryId() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=a&topic=b")) {
      HttpResponse<String> answer =
          f.post(
              "[{\"topic\": \"a\", \"data\": \"one\"},"
                  + " {\"topics\": [\"a\", \"b\"], \"type\": \"t\", \"data\": {\"n\": 2}},"
                  + " {\"topic\": \"b\", \"data\": \"three\"}]");
      assertThat(answer.statusCode()).isEqualTo(201);
      JsonNode ids = HubFixture.json(answer.body()).get("ids");
      assertThat(ids.size()).isEqualTo(3);
      List<Event> events = stream.next(3);
      assertThat(events).extracting(Event::data).containsExactly("one", "{\"n\":2}", "three");
      for (int i = 0; i < 3; i++) {
        assertThat(events.get(i).id()).hasValue(ids.get(i).asText());
      }
      assertThat(Long.parseLong(ids.get(0).asText()))
          .isLessThan(Long.parseLong(ids.get(1).asText()));
      assertThat(Long.parseLong(ids.get(1).asText()))
          .isLessThan(Long.parseLong(ids.get(2).asText()));
    }
  }

  @Test
  void ndjsonLinesAreOneBatch() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=n")) {
      HttpResponse<String> answer =
          ndjson(
              f, "{\"topic\": \"n\", \"data\": \"x\"}\n\n{\"topic\": \"n\", \"data\": \"y\"}\r\n");
      assertThat(answer.statusCode()).isEqualTo(201);
      assertThat(HubFixture.json(answer.body()).get("ids").size()).isEqualTo(2);
      assertThat(stream.next(2)).extracting(Event::data).containsExactly("x", "y");
    }
  }

  @Test
  void memberIdHeaderAppliesToEveryElement() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("", "Member-ID", "m1")) {
      HttpResponse<String> answer =
          f.post(
              "[{\"event\": {\"type\": \"A\", \"body\": 1}}, {\"event\": {\"type\": \"B\","
                  + " \"body\": 2}}]",
              "Member-ID",
              "m1");
      assertThat(answer.statusCode()).isEqualTo(201);
      assertThat(stream.next(2)).extracting(Event::type).containsExactly("A", "B");
    }
  }

  @Test
  void oneBadElementRefusesTheBatchNamingItsIndexAndPublishesNothing() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=a")) {
      HttpResponse<String> answer =
          f.post(
              "[{\"topic\": \"a\", \"data\": 1}, {\"topic\": \"a\", \"data\": 2},"
                  + " {\"topic\": \"a\", \"data\": 3}, {\"topic\": \"a\"}]");
      assertThat(answer.statusCode()).isEqualTo(400);
      JsonNode error = HubFixture.json(answer.body());
      assertThat(error.get("error").asText()).isEqualTo("data_missing");
      assertThat(error.get("index").asInt()).isEqualTo(3);
      assertThat(error.get("message").asText()).contains("event 3");

      // Nothing of the batch was stored: the first event the subscriber sees is the next one.
      String marker = f.publish("{\"topic\": \"a\", \"data\": \"after\"}");
      Event first = stream.next();
      assertThat(first.id()).hasValue(marker);
    }
  }

  @Test
  void badNdjsonLineIsRefusedWithItsIndex() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      HttpResponse<String> answer = ndjson(f, "{\"topic\": \"a\", \"data\": 1}\n{nope\n");
      assertThat(answer.statusCode()).isEqualTo(400);
      JsonNode error = HubFixture.json(answer.body());
      assertThat(error.get("error").asText()).isEqualTo("invalid_json");
      assertThat(error.get("index").asInt()).isEqualTo(1);
    }
  }

  @Test
  void emptyBatchIs400BatchEmpty() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      HttpResponse<String> answer = f.post("[]");
      assertThat(answer.statusCode()).isEqualTo(400);
      assertThat(HubFixture.json(answer.body()).get("error").asText()).isEqualTo("batch_empty");
      assertThat(ndjson(f, "\n\n").statusCode()).isEqualTo(400);
      HttpResponse<String> notObject = f.post("[{\"topic\": \"a\", \"data\": 1}, \"t\"]");
      assertThat(notObject.statusCode()).isEqualTo(400);
      assertThat(HubFixture.json(notObject.body()).get("index").asInt()).isEqualTo(1);
    }
  }

  @Test
  void batchOverTheLimitIs413BatchTooLarge() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxBatchEvents(3));
        SseStream stream = f.subscribe("?topic=a")) {
      List<String> four = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        four.add("{\"topic\": \"a\", \"data\": " + i + "}");
      }
      HttpResponse<String> answer = f.post("[" + String.join(",", four) + "]");
      assertThat(answer.statusCode()).isEqualTo(413);
      assertThat(HubFixture.json(answer.body()).get("error").asText()).isEqualTo("batch_too_large");
      assertThat(ndjson(f, String.join("\n", four)).statusCode()).isEqualTo(413);
      assertThat(f.post("[" + String.join(",", four.subList(0, 3)) + "]").statusCode())
          .isEqualTo(201);
      assertThat(stream.next(3)).extracting(Event::data).containsExactly("0", "1", "2");
    }
  }

  @Test
  void batchWhoseElementTargetsAForbiddenTopicIs403WithItsIndex() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      String token = Tokens.hs256(Tokens.claims("p", List.of("ok/*"), List.of("*")).build());
      HttpResponse<String> answer =
          f.post(
              "[{\"topic\": \"ok/1\", \"data\": 1}, {\"topic\": \"secret\", \"data\": 2}]",
              "Authorization",
              "Bearer " + token);
      assertThat(answer.statusCode()).isEqualTo(403);
      JsonNode error = HubFixture.json(answer.body());
      assertThat(error.get("error").asText()).isEqualTo("publish_not_allowed");
      assertThat(error.get("index").asInt()).isEqualTo(1);
    }
  }

  private static HttpResponse<String> ndjson(HubFixture f, String body) throws Exception {
    return f.client.send(
        HttpRequest.newBuilder(f.uri("/events"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/x-ndjson")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
