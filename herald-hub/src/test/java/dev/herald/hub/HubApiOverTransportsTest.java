package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.hub.Transports.Answer;
import dev.herald.hub.Transports.Client;
import dev.herald.hub.Transports.Stream;
import dev.herald.hub.Transports.Transport;
import dev.herald.server.Conditions;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The rest of the hub's API ({@code docs/http-api.md}) over HTTP/1.1, HTTP/2 over TLS and cleartext
 * HTTP/2, with the same assertions on each: batches, idempotency, {@code reset}, multi-topic
 * streams, every refusal of a subscribe and a publish (and that a refused publish stored nothing),
 * rights from the token, members, devices and presence, the probes, HEAD and the publish rate.
 */
class HubApiOverTransportsTest {
  private static final String JSON = "application/json";

  @ParameterizedTest
  @EnumSource(Transport.class)
  void publishesBatchesAsJsonAndNdjsonWithIdsInBatchOrder(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f);
        Stream stream = client.subscribe("/events?topic=b")) {
      Answer array =
          client.send(
              "POST",
              "/events",
              "[{\"topic\":\"b\",\"data\":\"1\"},{\"topic\":\"b\",\"data\":\"2\"},"
                  + "{\"topic\":\"other\",\"data\":\"x\"}]",
              "Content-Type",
              JSON);
      assertThat(array.status()).as(array.body()).isEqualTo(201);
      List<String> ids = texts(array.json().get("ids"));
      assertThat(ids).hasSize(3);
      assertThat(texts(array.json().get("reached"))).containsExactly("1", "1", "0");
      Answer ndjson =
          client.send(
              "POST",
              "/events",
              "{\"topic\":\"b\",\"data\":\"3\"}\n\n{\"topic\":\"b\",\"data\":\"4\"}\n",
              "Content-Type",
              "application/x-ndjson");
      assertThat(ndjson.status()).as(ndjson.body()).isEqualTo(201);
      ids = new java.util.ArrayList<>(ids.subList(0, 2));
      ids.addAll(texts(ndjson.json().get("ids")));
      assertThat(ids.stream().map(Long::parseLong).toList()).isSorted().doesNotHaveDuplicates();
      for (int i = 0; i < 4; i++) {
        Event event = stream.next();
        assertThat(event.id()).contains(ids.get(i));
        assertThat(event.data()).isEqualTo(Integer.toString(i + 1));
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void answersAnIdempotentRetryWithTheFirstIdsAndRefusesAConflictingOne(Transport transport)
      throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f);
        Stream stream = client.subscribe("/events?topic=i")) {
      String body = "{\"topic\":\"i\",\"data\":\"once\"}";
      Answer first =
          client.send("POST", "/events", body, "Content-Type", JSON, "Idempotency-Key", "k1");
      assertThat(first.status()).as(first.body()).isEqualTo(201);
      Answer retry =
          client.send("POST", "/events", body, "Content-Type", JSON, "Idempotency-Key", "k1");
      assertThat(retry.status()).isEqualTo(201);
      assertThat(retry.json().get("id").asText()).isEqualTo(first.json().get("id").asText());
      assertThat(retry.json().get("reached").asInt()).isZero();
      assertThat(retry.headers().get("idempotent-replayed")).isEqualTo("true");
      Answer conflict =
          client.send(
              "POST",
              "/events",
              "{\"topic\":\"i\",\"data\":\"other\"}",
              "Content-Type",
              JSON,
              "Idempotency-Key",
              "k1");
      assertThat(conflict.status()).isEqualTo(422);
      assertThat(conflict.json().get("error").asText()).isEqualTo("idempotency_key_conflict");
      // One event stored: the next one on the stream after it is the marker.
      assertThat(stream.next().id()).contains(first.json().get("id").asText());
      String marker = client.publish("{\"topic\":\"i\",\"data\":\"marker\"}");
      assertThat(stream.next().id()).contains(marker);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void saysResetForAnUnknownPositionAndReplaysFromEarliest(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f)) {
      String one = client.publish("{\"topic\":\"r\",\"data\":\"1\"}");
      String two = client.publish("{\"topic\":\"r\",\"data\":\"2\"}");
      try (Stream stream = client.subscribe("/events?topic=r", "Last-Event-ID", "not-an-id")) {
        Event reset = stream.next();
        assertThat(reset.type()).isEqualTo("reset");
        assertThat(reset.id()).isEmpty();
        JsonNode data = HubFixture.json(reset.data());
        assertThat(data.get("reason").asText()).isEqualTo("unknown");
        assertThat(data.get("lastEventId").asText()).isEqualTo("not-an-id");
        assertThat(stream.next().id()).contains(one);
        assertThat(stream.next().id()).contains(two);
      }
      try (Stream earliest = client.subscribe("/events?topic=r&lastEventId=earliest")) {
        assertThat(earliest.next().id()).contains(one);
        assertThat(earliest.next().id()).contains(two);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void deliversAnEventOfSeveralTopicsOnceWithOneId(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f);
        Stream stream = client.subscribe("/events?topic=a&topic=b&topic=a")) {
      String both = client.publish("{\"topics\":[\"a\",\"b\"],\"data\":\"both\"}");
      String onlyB = client.publish("{\"topic\":\"b\",\"data\":\"b\"}");
      assertThat(stream.next().id()).contains(both);
      assertThat(stream.next().id()).contains(onlyB);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void refusesBadSubscriptionsWithTheirReasonCodes(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f)) {
      assertRefused(client.send("GET", "/events", null), 400, "topic_missing");
      String many =
          IntStream.range(0, 33).mapToObj(i -> "topic=t" + i).collect(Collectors.joining("&"));
      assertRefused(client.send("GET", "/events?" + many, null), 400, "too_many_topics");
      assertRefused(client.send("GET", "/events?topic=a%01b", null), 400, "topic_invalid");
      assertRefused(
          client.send("GET", "/events?topic=a", null, "Device-Id", "x".repeat(129)),
          400,
          "device_id_invalid");
      assertRefused(
          client.send("GET", "/events?topic=a", null, "Member-ID", ""), 400, "topic_invalid");
      // The connection (or, on HTTP/2, its other streams) still serves.
      assertThat(client.send("GET", "/healthz", null).status()).isEqualTo(200);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void refusesBadPublishesAndStoresNothing(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().maxEventBytes(1024));
        Client client = transport.client(f);
        Stream stream = client.subscribe("/events?topic=p")) {
      assertRefused(
          client.send(
              "POST", "/events", "{\"topic\":\"p\",\"data\":1}", "Content-Type", "text/plain"),
          415,
          "unsupported_media_type");
      assertRefused(
          client.send("POST", "/events", "{\"topic\":\"p\",", "Content-Type", JSON),
          400,
          "invalid_json");
      assertRefused(
          client.send("POST", "/events", "{\"topic\":\"p\"}", "Content-Type", JSON),
          400,
          "data_missing");
      Answer badElement =
          client.send(
              "POST",
              "/events",
              "[{\"topic\":\"p\",\"data\":1},{\"topic\":\"p\"}]",
              "Content-Type",
              JSON);
      assertRefused(badElement, 400, "data_missing");
      assertThat(badElement.json().get("index").asInt()).isEqualTo(1);
      assertRefused(
          client.send(
              "POST",
              "/events",
              "{\"topic\":\"p\",\"data\":\"" + "z".repeat(2048) + "\"}",
              "Content-Type",
              JSON),
          413,
          "body_too_large");
      assertRefused(client.send("POST", "/events", "[]", "Content-Type", JSON), 400, "batch_empty");
      String marker = client.publish("{\"topic\":\"p\",\"data\":\"marker\"}");
      assertThat(stream.next().id()).as("nothing refused was stored").contains(marker);
      assertThat(client.send("GET", "/metrics", null).body())
          .containsPattern("herald_events_published_total(\\{[^}]*\\})? 1\\.0");
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void grantsOnlyTheTopicsTheTokenNames(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().jwtSecret(Tokens.SECRET));
        Client client = transport.client(f)) {
      String bearer =
          "Bearer " + Tokens.hs256(Tokens.claims("ana", List.of("news"), List.of("news")).build());
      assertRefused(
          client.send("GET", "/events?topic=sports", null, "Authorization", bearer),
          403,
          "topic_not_allowed");
      assertRefused(
          client.send(
              "POST",
              "/events",
              "{\"topic\":\"sports\",\"data\":1}",
              "Content-Type",
              JSON,
              "Authorization",
              bearer),
          403,
          "publish_not_allowed");
      assertRefused(
          client.send("GET", "/events?topic=news", null, "Authorization", "Bearer not.a.token"),
          401,
          "token_malformed");
      // Her own member topic needs no right.
      try (Stream own = client.subscribe("/events", "Member-ID", "ana", "Authorization", bearer)) {
        assertThat(own.status()).isEqualTo(200);
      }
      assertThat(client.send("GET", "/metrics", null).body())
          .containsPattern("herald_events_published_total(\\{[^}]*\\})? 0\\.0");
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void publishesToAMemberAndShowsItsDeviceInPresence(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f);
        Stream phone = client.subscribe("/events", "Member-ID", "ana", "Device-Id", "phone-1")) {
      Answer presence = client.send("GET", "/presence?member=ana", null);
      assertThat(presence.status()).isEqualTo(200);
      assertThat(presence.json().get("topic").asText()).isEqualTo("members/ana");
      assertThat(presence.json().get("subscriptions").asInt()).isEqualTo(1);
      assertThat(presence.json().get("devices").get(0).get("deviceId").asText())
          .isEqualTo("phone-1");
      Answer sent =
          client.send(
              "POST",
              "/events",
              "{\"event\":{\"type\":\"ORDER_SHIPPED\",\"body\":{\"order\":42}}}",
              "Content-Type",
              JSON,
              "Member-ID",
              "ana");
      assertThat(sent.status()).as(sent.body()).isEqualTo(201);
      Event event = phone.next();
      assertThat(event.id()).contains(sent.json().get("id").asText());
      assertThat(event.type()).isEqualTo("ORDER_SHIPPED");
      JsonNode data = HubFixture.json(event.data());
      assertThat(data.get("body").get("order").asInt()).isEqualTo(42);
      assertThat(data.get("timestamp").asText()).endsWith("Z");
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void resumesADeviceFromItsCursorWithoutAPosition(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f)) {
      String seen;
      try (Stream first = client.subscribe("/events?topic=d", "Device-Id", "tab-1")) {
        seen = client.publish("{\"topic\":\"d\",\"data\":\"seen\"}");
        assertThat(first.next().id()).contains(seen);
      }
      // The cursor is the last event written to the device's stream: publish only once the hub
      // has seen the first stream end, or it may write the event to it.
      assertThat(Conditions.eventually(() -> streams(client) == 0)).isTrue();
      String missed = client.publish("{\"topic\":\"d\",\"data\":\"missed\"}");
      try (Stream back = client.subscribe("/events?topic=d", "Device-Id", "tab-1")) {
        Event event = back.next();
        assertThat(event.id()).contains(missed);
        assertThat(event.data()).isEqualTo("missed");
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void answersProbesMetricsStatsAndHead(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f);
        Stream stream = client.subscribe("/events?topic=s")) {
      assertThat(client.send("GET", "/healthz", null).status()).isEqualTo(200);
      assertThat(client.send("GET", "/readyz", null).status()).isEqualTo(200);
      Answer metrics = client.send("GET", "/metrics", null);
      assertThat(metrics.status()).isEqualTo(200);
      assertThat(metrics.body()).contains("herald_events_published_total");
      Answer stats = client.send("GET", "/stats", null);
      assertThat(stats.status()).isEqualTo(200);
      assertThat(stats.json().get("streams").asInt()).isEqualTo(1);
      assertThat(stats.json().get("store").get("available").asBoolean()).isTrue();
      Answer head = client.send("HEAD", "/events?topic=s", null);
      assertThat(head.status()).isEqualTo(200);
      assertThat(head.headers().get("content-type")).isEqualTo("text/event-stream; charset=utf-8");
      assertThat(head.body()).isEmpty();
      // HEAD subscribed nothing: still one stream.
      assertThat(client.send("GET", "/stats", null).json().get("streams").asInt()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void answersHeadWithTheRefusalAGetWouldGet(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().jwtSecret(Tokens.SECRET));
        Client client = transport.client(f)) {
      Answer missing = client.send("HEAD", "/events?topic=s", null);
      assertThat(missing.status()).isEqualTo(401);
      assertThat(missing.body()).isEmpty();
      String bearer =
          "Bearer " + Tokens.hs256(Tokens.claims("ana", List.of(), List.of("news")).build());
      assertThat(
              client.send("HEAD", "/events?topic=sports", null, "Authorization", bearer).status())
          .isEqualTo(403);
      assertThat(client.send("HEAD", "/events?topic=news", null, "Authorization", bearer).status())
          .isEqualTo(200);
      assertThat(client.send("HEAD", "/healthz", null).status()).isEqualTo(200);
    }
  }

  @Test
  void headOnAKeptAliveConnectionLeavesItReadyForTheNextRequest() throws Exception {
    try (HubFixture f = HubFixture.memory();
        RawConnection raw = RawConnection.open(f.hub)) {
      raw.send(
          "HEAD /events?topic=s HTTP/1.1\r\nHost: x\r\n\r\n"
              + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      List<RawConnection.Response> responses = raw.responsesUntilEnd();
      assertThat(responses).hasSize(2);
      assertThat(responses.get(0).status()).isEqualTo(200);
      assertThat(responses.get(0).body()).isEmpty();
      assertThat(responses.get(1).status()).isEqualTo(200);
      assertThat(responses.get(1).body()).contains("up");
      assertThat(responses.get(0).headers().get("content-type"))
          .isEqualTo("text/event-stream; charset=utf-8");
      try (Client client = Transport.HTTP_1_1.client(f)) {
        assertThat(streams(client)).as("HEAD subscribed nothing").isZero();
      }
    }
  }

  /**
   * RFC 9113 (section 3.1) deprecated the {@code Upgrade: h2c} mechanism; a server ignores an
   * upgrade it does not take (RFC 9110, section 7.8). Cleartext HTTP/2 is by prior knowledge.
   */
  @Test
  void ignoresAnH2cUpgradeAndAnswersInHttp11() throws Exception {
    try (HubFixture f = HubFixture.memory();
        RawConnection raw = RawConnection.open(f.hub)) {
      raw.send(
          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
              + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
      List<RawConnection.Response> responses = raw.responsesUntilEnd();
      assertThat(raw.received()).startsWith("HTTP/1.1 200 ");
      assertThat(responses).hasSize(1);
      assertThat(responses.get(0).headers()).doesNotContainKey("upgrade");
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void refusesPublishesOverTheRateWith429AndRetryAfter(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().publishRate(2));
        Client client = transport.client(f)) {
      Answer refused = null;
      for (int i = 0; i < 20 && refused == null; i++) {
        Answer answer =
            client.send("POST", "/events", "{\"topic\":\"q\",\"data\":1}", "Content-Type", JSON);
        if (answer.status() != 201) {
          refused = answer;
        }
      }
      assertThat(refused).as("refused within 20 publishes at 2/s").isNotNull();
      assertRefused(refused, 429, "rate_limited");
      assertThat(Integer.parseInt(refused.headers().get("retry-after"))).isPositive();
    }
  }

  private static void assertRefused(Answer answer, int status, String code) throws Exception {
    assertThat(answer.status()).as(answer.body()).isEqualTo(status);
    assertThat(answer.headers().get("content-type")).isEqualTo("application/json; charset=utf-8");
    assertThat(answer.json().get("error").asText()).isEqualTo(code);
    assertThat(answer.json().get("message").asText()).isNotBlank();
  }

  private static int streams(Client client) {
    try {
      return client.send("GET", "/stats", null).json().get("streams").asInt();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> texts(JsonNode array) {
    return IntStream.range(0, array.size()).mapToObj(i -> array.get(i).asText()).toList();
  }
}
