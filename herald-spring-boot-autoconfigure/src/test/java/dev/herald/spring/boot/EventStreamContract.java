package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Conditions;
import dev.herald.server.StoredEvent;
import dev.herald.spring.boot.testing.CloseRecorder;
import dev.herald.spring.boot.testing.RawHttp;
import dev.herald.spring.boot.testing.StreamClient;
import dev.herald.spring.boot.testing.TestApps;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * What every Herald stream of a Boot application does, on one web stack: a real application on a
 * random port, subscribed to with herald-client or a raw socket. {@code MvcStreamTest} runs it on
 * Spring MVC and Tomcat, {@code FluxStreamTest} on WebFlux and Reactor Netty. Each test uses topics
 * of its own, so the tests share one application.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(60)
abstract class EventStreamContract {
  static final Duration WAIT = Duration.ofSeconds(10);
  static final ObjectMapper JSON = new ObjectMapper();

  ConfigurableApplicationContext context;
  Broker broker;
  HeraldPublisher publisher;
  CloseRecorder recorder;
  MeterRegistry meters;
  int port;

  /** Starts the application under test with these properties. */
  abstract ConfigurableApplicationContext start(String... properties);

  @BeforeAll
  void startApplication() {
    context =
        start(
            "herald.heartbeat=100ms",
            "herald.max-buffer-bytes=64KB",
            "herald.mvc.path=/events",
            "herald.webflux.path=/events");
    broker = context.getBean(Broker.class);
    publisher = context.getBean(HeraldPublisher.class);
    recorder = context.getBean(CloseRecorder.class);
    meters = context.getBean(MeterRegistry.class);
    port = TestApps.port(context);
  }

  @AfterAll
  void stopApplication() {
    if (context != null) {
      context.close();
    }
  }

  /** A room nobody else uses: its topic is {@code rooms/<room>}. */
  static String newRoom() {
    return "room-" + UUID.randomUUID();
  }

  URI uri(String pathAndQuery) {
    return TestApps.uri(context, pathAndQuery);
  }

  StoredEvent publish(String topic, String data) throws Exception {
    return publisher.publish(topic, data).get(10, TimeUnit.SECONDS);
  }

  double counter(String name) {
    return meters.get(name).functionCounter().count();
  }

  @Test
  void streamOpensWithEventStreamHeadersOnceLiveAndDeliversWhatIsPublished() throws Exception {
    String room = newRoom();
    try (Socket socket = RawHttp.request(port, "GET", "/rooms/events?room=" + room)) {
      RawHttp.Head head = RawHttp.readHead(socket);
      RawHttp.readUntil(socket, ":ok\n");

      assertThat(head.status()).isEqualTo(200);
      assertThat(head.header("content-type")).startsWith("text/event-stream");
      assertThat(head.header("cache-control")).isEqualTo("no-store");
      assertThat(head.header("x-accel-buffering")).isEqualTo("no");
      // The head is out, so the subscription is live: this event must arrive.
      StoredEvent event = publish("rooms/" + room, "hello");
      String frames = RawHttp.readUntil(socket, "hello");
      assertThat(frames).containsPattern("id: ?" + event.id() + "\n");
    }
  }

  @Test
  void readmeExampleStreamsWhatItsPublisherPublishes() throws Exception {
    String order = UUID.randomUUID().toString();
    try (StreamClient client = StreamClient.open(uri("/orders/" + order + "/events"), "")) {
      HttpResponse<String> shipped = RawHttp.send("POST", uri("/orders/" + order + "/ship"));

      assertThat(shipped.statusCode()).isEqualTo(200);
      Event event = client.next(WAIT);
      assertThat(event.type()).isEqualTo("shipped");
      assertThat(event.data()).isEqualTo("{\"order\":\"" + order + "\"}");
      assertThat(event.id()).isPresent();
    }
  }

  @Test
  void resumesExactlyThroughAbruptDisconnectsWhilePublishing() throws Exception {
    String room = newRoom();
    String topic = "rooms/" + room;
    List<String> published = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      published.add(Long.toString(publish(topic, "history " + i).id()));
    }
    List<String> received = new ArrayList<>();
    try (StreamClient client = StreamClient.open(uri("/rooms/events?room=" + room), "earliest")) {
      for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 20; i++) {
          published.add(Long.toString(publish(topic, "round " + round + " event " + i).id()));
        }
        // Drop the connection mid-stream; the client reconnects with Last-Event-ID.
        client.restart();
      }
      for (Event event : client.take(published.size(), WAIT)) {
        received.add(event.id().orElseThrow());
      }

      assertThat(received).containsExactlyElementsOf(published);
      assertThat(client.poll(Duration.ofMillis(200))).as("nothing more").isEmpty();
      // Heartbeats find the dropped connections: only the last one stays subscribed.
      assertThat(Conditions.eventually(() -> broker.subscriptionCount(topic) == 1))
          .as("dropped connections released")
          .isTrue();
    }
  }

  @Test
  void lastEventIdHeaderWinsAndAnUnknownIdGetsAResetThenAllRetainedHistory() throws Exception {
    String room = newRoom();
    StoredEvent first = publish("rooms/" + room, "one");
    StoredEvent second = publish("rooms/" + room, "two");
    String query =
        "/rooms/events?room="
            + room
            + "&lastEventId="
            + URLEncoder.encode("not an id", StandardCharsets.UTF_8);
    try (StreamClient header = StreamClient.open(uri(query), Long.toString(first.id()));
        StreamClient unknown = StreamClient.open(uri(query), "")) {
      assertThat(header.next(WAIT).id()).hasValue(Long.toString(second.id()));

      Event reset = unknown.next(WAIT);
      assertThat(reset.type()).isEqualTo("reset");
      assertThat(reset.id()).as("a reset has no id").isEmpty();
      assertThat(reset.data()).isEqualTo("{\"lastEventId\":\"not an id\",\"reason\":\"unknown\"}");
      assertThat(unknown.take(2, WAIT))
          .extracting(e -> e.id().orElseThrow())
          .containsExactly(Long.toString(first.id()), Long.toString(second.id()));
    }
  }

  @Test
  void stalledReaderIsCutWhileTheOthersGetEverything() throws Exception {
    String room = newRoom();
    String topic = "rooms/" + room;
    String payload = "x".repeat(2000);
    int events = 4000; // about 8 MB: far beyond the 64 KB bound and what the socket buffers hold
    int burst = 20; // 40 KB: within what a reader that keeps up may have outstanding
    int slowBefore = recorder.closedAs(CloseReason.SLOW_CONSUMER);
    double slowMeterBefore = counter("herald.slow.consumer.closes");
    try (Socket stalled = RawHttp.request(port, 4096, "GET", "/rooms/events?room=" + room)) {
      RawHttp.readUntil(stalled, ":ok\n");
      Map<StreamClient, Integer> counted = new IdentityHashMap<>();
      try (StreamClient fast1 = StreamClient.open(uri("/rooms/events?room=" + room), "");
          StreamClient fast2 = StreamClient.open(uri("/rooms/events?room=" + room), "")) {
        assertThat(broker.subscriptionCount(topic)).isEqualTo(3);
        for (int sent = 0; sent < events; ) {
          for (int i = 0; i < burst; i++, sent++) {
            publish(topic, sent + ":" + payload);
          }
          // The readers that read keep up; the stalled one holds nobody back.
          for (StreamClient fast : List.of(fast1, fast2)) {
            for (Event event : fast.take(burst, WAIT)) {
              // In order, none skipped: event n carries n.
              assertThat(event.data()).startsWith(counted.getOrDefault(fast, 0) + ":");
              counted.merge(fast, 1, Integer::sum);
            }
          }
        }

        assertThat(counted.get(fast1)).isEqualTo(events);
        assertThat(counted.get(fast2)).isEqualTo(events);
        assertThat(recorder.closedAs(CloseReason.SLOW_CONSUMER) - slowBefore).isEqualTo(1);
        assertThat(counter("herald.slow.consumer.closes") - slowMeterBefore).isEqualTo(1);
        assertThat(broker.subscriptionCount(topic)).isEqualTo(2);
      }
      // The server ended the stalled stream: reading what is left reaches its clean end.
      assertThat(RawHttp.readsToCleanEnd(stalled)).as("stalled stream ended").isTrue();
    }
  }

  @Test
  void headAnswersTheHeadersOfAGetAndSubscribesNothing() throws Exception {
    String room = newRoom();
    int opened = recorder.opened();
    List<RawHttp.Head> heads = new ArrayList<>();
    // Several on one kept-alive connection: each is answered only if the one before ended, and
    // is read exactly to its blank line, so any body would garble the next status line.
    try (Socket socket = RawHttp.request(port, "HEAD", "/rooms/events?room=" + room)) {
      heads.add(RawHttp.readHead(socket));
      for (int i = 0; i < 5; i++) {
        RawHttp.send(socket, "HEAD", "/rooms/events?room=" + room + "&room=other" + i);
        heads.add(RawHttp.readHead(socket));
        RawHttp.send(socket, "HEAD", "/events?topic=rooms/" + room);
        heads.add(RawHttp.readHead(socket));
      }
    }

    assertThat(heads)
        .hasSize(11)
        .allSatisfy(
            head -> {
              assertThat(head.status()).isEqualTo(200);
              assertThat(head.header("content-type")).startsWith("text/event-stream");
              assertThat(head.header("cache-control")).isEqualTo("no-store");
            });
    assertThat(recorder.opened()).as("subscriptions opened by HEAD").isEqualTo(opened);
    assertThat(broker.subscriptionCount("rooms/" + room)).isZero();
  }

  @Test
  void invalidOrMissingTopicsAreRefusedWithJsonErrorsAndSubscribeNothing() throws Exception {
    int opened = recorder.opened();
    StringBuilder many = new StringBuilder("/rooms/events?room=a");
    for (int i = 0; i < 33; i++) {
      many.append("&room=r").append(i);
    }

    HttpResponse<String> invalid = RawHttp.get(uri("/rooms/events?room=a%01b"));
    HttpResponse<String> tooMany = RawHttp.get(uri(many.toString()));
    HttpResponse<String> missing = RawHttp.get(uri("/events"));

    assertThat(invalid.statusCode()).isEqualTo(400);
    assertThat(invalid.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("application/json");
    assertThat(JSON.readTree(invalid.body()).get("error").asText()).isEqualTo("topic_invalid");
    assertThat(JSON.readTree(invalid.body()).get("message").asText())
        .contains("control characters");
    assertThat(tooMany.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(tooMany.body()).get("error").asText()).isEqualTo("too_many_topics");
    assertThat(missing.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(missing.body()).get("error").asText()).isEqualTo("topic_missing");
    assertThat(JSON.readTree(missing.body()).get("message").asText()).contains("?topic=");
    assertThat(recorder.opened()).as("subscriptions opened").isEqualTo(opened);
  }

  @Test
  void idleStreamsGetHeartbeatComments() throws Exception {
    try (StreamClient client = StreamClient.open(uri("/rooms/events?room=" + newRoom()), "")) {
      // The opening comment, then heartbeats every 100 to 150 ms of silence.
      assertThat(
              Conditions.eventually(
                  () -> client.comments().stream().filter(String::isEmpty).count() >= 3))
          .as("heartbeats, in: %s", client.comments())
          .isTrue();
      assertThat(client.comments()).first().isEqualTo("ok");
    }
  }

  @Test
  void readyEndpointStreamsTheTopicsItsQueryNames() throws Exception {
    String a = "rooms/" + newRoom();
    String b = "rooms/" + newRoom();
    try (StreamClient client = StreamClient.open(uri("/events?topic=" + a + "&topic=" + b), "")) {
      StoredEvent first = publish(a, "to a");
      StoredEvent second = publish(b, "to b");
      assertThat(client.take(2, WAIT))
          .extracting(e -> e.id().orElseThrow(), Event::data)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(Long.toString(first.id()), "to a"),
              org.assertj.core.groups.Tuple.tuple(Long.toString(second.id()), "to b"));
    }
  }

  @Test
  void readyEndpointLeavesOtherMethodsOnItsPathToTheApplication() throws Exception {
    HttpResponse<String> posted = RawHttp.send("POST", uri("/events?topic=t"));

    assertThat(posted.statusCode()).isEqualTo(200);
    assertThat(posted.body()).isEqualTo("posted to the application");
  }

  @Test
  void healthAndMetricsReportTheBrokerThroughActuator() throws Exception {
    String room = newRoom();
    double published = counter("herald.events.published");
    double delivered = counter("herald.events.delivered");
    double replayed = counter("herald.events.replayed");
    long batches = meters.get("herald.replay.batch").summary().count();
    publish("rooms/" + room, "stored before");
    try (StreamClient client = StreamClient.open(uri("/rooms/events?room=" + room), "earliest")) {
      client.next(WAIT);
      publish("rooms/" + room, "live");
      client.next(WAIT);

      assertThat(counter("herald.events.published") - published).isEqualTo(2);
      assertThat(counter("herald.events.replayed") - replayed).isEqualTo(1);
      assertThat(meters.get("herald.replay.batch").summary().count() - batches).isEqualTo(1);
      assertThat(counter("herald.events.delivered") - delivered).isEqualTo(1);
      assertThat(meters.get("herald.subscriptions.active").gauge().value()).isGreaterThan(0);

      JsonNode health = JSON.readTree(RawHttp.get(uri("/actuator/health")).body());
      assertThat(health.at("/components/herald/status").asText()).isEqualTo("UP");
      assertThat(health.at("/components/herald/details/store").asText())
          .isEqualTo("MemoryEventLog");
      JsonNode names = JSON.readTree(RawHttp.get(uri("/actuator/metrics")).body()).get("names");
      List<String> listed = new ArrayList<>();
      names.forEach(name -> listed.add(name.asText()));
      assertThat(listed)
          .contains(
              "herald.subscriptions.active",
              "herald.subscriptions.closed",
              "herald.events.published",
              "herald.events.delivered",
              "herald.events.replayed",
              "herald.slow.consumer.closes",
              "herald.replay.batch");
      JsonNode closed =
          JSON.readTree(RawHttp.get(uri("/actuator/metrics/herald.subscriptions.closed")).body());
      assertThat(closed.at("/availableTags/0/tag").asText()).isEqualTo("reason");
    }
  }
}
