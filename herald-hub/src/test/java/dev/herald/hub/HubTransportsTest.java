package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.hub.Transports.Answer;
import dev.herald.hub.Transports.Client;
import dev.herald.hub.Transports.Stream;
import dev.herald.hub.Transports.Transport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The hub's API over each protocol it speaks — HTTP/1.1, HTTP/2 over TLS (ALPN, the JDK client) and
 * cleartext HTTP/2 by prior knowledge (a Netty client) — with the same answers: streams and
 * resumption, the JSON errors, auth, CORS, and the slow-consumer bound. The rest of the API over
 * each protocol: {@link HubApiOverTransportsTest}.
 */
class HubTransportsTest {
  @ParameterizedTest
  @EnumSource(Transport.class)
  void streamsPublishesAndResumesWithLastEventId(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f)) {
      String first;
      String second;
      try (Stream stream = client.subscribe("/events?topic=news")) {
        assertThat(stream.status()).isEqualTo(200);
        assertThat(stream.header("content-type")).isEqualTo("text/event-stream; charset=utf-8");
        assertThat(stream.header("cache-control")).isEqualTo("no-store");
        assertThat(stream.header("x-accel-buffering")).isEqualTo("no");
        if (transport != Transport.HTTP_1_1) {
          // Connection-specific fields are an HTTP/2 protocol error (RFC 9113, section 8.2.2).
          assertThat(stream.header("transfer-encoding")).isNull();
          assertThat(stream.header("connection")).isNull();
        }
        first = client.publish("{\"topic\": \"news\", \"type\": \"headline\", \"data\": \"one\"}");
        second = client.publish("{\"topic\": \"news\", \"data\": {\"n\": 2}}");
        Event a = stream.next();
        assertThat(a.id()).contains(first);
        assertThat(a.type()).isEqualTo("headline");
        assertThat(a.data()).isEqualTo("one");
        Event b = stream.next();
        assertThat(b.id()).contains(second);
        assertThat(b.data()).isEqualTo("{\"n\":2}");
      }
      String third = client.publish("{\"topic\": \"news\", \"data\": \"three\"}");
      try (Stream resumed = client.subscribe("/events?topic=news", "Last-Event-ID", first)) {
        assertThat(resumed.next().id()).contains(second);
        assertThat(resumed.next().id()).contains(third);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void refusesARequestWithoutTokenWith401AndPublishesNothing(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().jwtSecret(Tokens.SECRET));
        Client client = transport.client(f)) {
      Answer subscribe = client.send("GET", "/events?topic=news", null);
      assertThat(subscribe.status()).isEqualTo(401);
      assertThat(subscribe.headers().get("www-authenticate")).isEqualTo("Bearer realm=\"herald\"");
      assertThat(subscribe.json().get("error").asText()).isEqualTo("token_missing");
      Answer publish =
          client.send(
              "POST",
              "/events",
              "{\"topic\": \"news\", \"data\": 1}",
              "Content-Type",
              "application/json");
      assertThat(publish.status()).isEqualTo(401);
      assertThat(publish.json().get("error").asText()).isEqualTo("token_missing");
      assertThat(publish.headers().get("content-type"))
          .isEqualTo("application/json; charset=utf-8");
      Answer metrics = client.send("GET", "/metrics", null);
      assertThat(metrics.body())
          .containsPattern("herald_events_published_total(\\{[^}]*\\})? 0\\.0");
      // A token makes the same requests work over the same protocol.
      String token = Tokens.hs256(Tokens.claims("ana", List.of("news"), List.of("news")).build());
      try (Stream stream =
          client.subscribe("/events?topic=news", "Authorization", "Bearer " + token)) {
        String id =
            client.publish(
                "{\"topic\": \"news\", \"data\": 1}", "Authorization", "Bearer " + token);
        assertThat(stream.next().id()).contains(id);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void answersCorsPreflightsAndRefusesOtherOrigins(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder().corsOrigins(List.of("https://app.example")));
        Client client = transport.client(f)) {
      Answer preflight =
          client.send(
              "OPTIONS",
              "/events",
              null,
              "Origin",
              "https://app.example",
              "Access-Control-Request-Method",
              "POST");
      assertThat(preflight.status()).isEqualTo(204);
      assertThat(preflight.headers().get("access-control-allow-origin"))
          .isEqualTo("https://app.example");
      assertThat(preflight.headers().get("access-control-allow-credentials")).isEqualTo("true");
      assertThat(preflight.headers().get("access-control-allow-methods")).contains("POST");
      try (Stream stream = client.subscribe("/events?topic=c", "Origin", "https://app.example")) {
        assertThat(stream.header("access-control-allow-origin")).isEqualTo("https://app.example");
        assertThat(stream.header("vary")).isEqualTo("Origin");
      }
      Answer refused =
          client.send("GET", "/events?topic=c", null, "Origin", "https://evil.example");
      assertThat(refused.status()).isEqualTo(403);
      assertThat(refused.json().get("error").asText()).isEqualTo("origin_not_allowed");
      assertThat(refused.headers().get("access-control-allow-origin")).isNull();
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void answersUnknownPathsAndMethodsWithJsonErrors(Transport transport) throws Exception {
    try (HubFixture f = transport.hub(Hub.builder());
        Client client = transport.client(f)) {
      Answer missing = client.send("GET", "/nothing-here", null);
      assertThat(missing.status()).isEqualTo(404);
      assertThat(missing.json().get("error").asText()).isEqualTo("not_found");
      assertThat(missing.json().get("message").asText()).contains("/nothing-here");
      Answer wrong = client.send("DELETE", "/events", null);
      assertThat(wrong.status()).isEqualTo(405);
      assertThat(wrong.headers().get("allow")).isEqualTo("GET, HEAD, POST");
      assertThat(wrong.json().get("error").asText()).isEqualTo("method_not_allowed");
      // The connection serves on after a refusal (HTTP/1.1 opens a new one, HTTP/2 a new stream).
      assertThat(client.send("GET", "/healthz", null).status()).isEqualTo(200);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void cutsAStalledStreamAsSlowConsumerAndKeepsServingTheOthers(Transport transport)
      throws Exception {
    try (HubFixture f =
            transport.hub(Hub.builder().maxBufferBytes(64 * 1024).heartbeat(Duration.ZERO));
        Client client = transport.client(f);
        Stream witness = client.subscribe("/events?topic=flood");
        AutoCloseable stalled = client.stalled("/events?topic=flood")) {
      String payload = "\"" + "y".repeat(8 * 1024) + "\"";
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      int sent = 0;
      // Bounded: socket buffers and the stream's window absorb some, the 64 KiB bound the rest.
      while (!slowConsumerCut(client)) {
        assertThat(sent).as("the stalled stream is cut within 2000 events").isLessThan(2000);
        assertThat(System.nanoTime()).as("cut within 20 s").isLessThan(deadline);
        String id = client.publish("{\"topic\": \"flood\", \"data\": " + payload + "}");
        assertThat(witness.next().id()).contains(id);
        sent++;
      }
      String after = client.publish("{\"topic\": \"flood\", \"data\": \"after\"}");
      assertThat(witness.next().id()).contains(after);
    }
  }

  private static boolean slowConsumerCut(Client client) throws Exception {
    return client
        .send("GET", "/metrics", null)
        .body()
        .matches("(?s).*herald_slow_consumer_closes_total(\\{[^}]*\\})? 1\\.0.*");
  }
}
