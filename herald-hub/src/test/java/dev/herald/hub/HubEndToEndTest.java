package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.server.Retention;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubEndToEndTest {
  private static final String TIMESTAMP = "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z";

  @Test
  void memberFormEventReachesTheMembersStreamWithBodyAndTimestamp() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("", "Member-ID", "alice")) {
      HttpResponse<InputStream> head = stream.response();
      assertThat(head.statusCode()).isEqualTo(200);
      assertThat(head.headers().firstValue("content-type"))
          .hasValue("text/event-stream; charset=utf-8");
      assertThat(head.headers().firstValue("cache-control")).hasValue("no-store");
      assertThat(head.headers().firstValue("x-accel-buffering")).hasValue("no");

      Instant before = Instant.now().minusMillis(1);
      String id =
          f.publish(
              "{\"event\": {\"type\": \"ORDER_SHIPPED\", \"body\": {\"order\": 42, \"items\": [1,"
                  + " 2]}}}",
              "Member-ID",
              "alice");

      Event event = stream.next();
      assertThat(event.id()).hasValue(id);
      assertThat(event.type()).isEqualTo("ORDER_SHIPPED");
      JsonNode data = HubFixture.json(event.data());
      assertThat(data.get("body")).isEqualTo(HubFixture.json("{\"order\":42,\"items\":[1,2]}"));
      String timestamp = data.get("timestamp").asText();
      assertThat(timestamp).matches(TIMESTAMP);
      assertThat(Instant.parse(timestamp)).isBetween(before, Instant.now().plusMillis(1));
      assertThat(data.size()).isEqualTo(2);
    }
  }

  @Test
  void topicFormSendsStringDataAsIsAndOtherJsonAsCompactText() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=news")) {
      f.publish("{\"topic\": \"news\", \"data\": \"plain \\\"text\\\"\"}");
      f.publish("{\"topic\": \"news\", \"type\": \"update\", \"data\": {\"a\": [1, true, null]}}");
      f.publish("{\"topics\": [\"news\"], \"data\": 12.5}");

      Event text = stream.next();
      assertThat(text.type()).isEqualTo("message");
      assertThat(text.data()).isEqualTo("plain \"text\"");
      Event object = stream.next();
      assertThat(object.type()).isEqualTo("update");
      assertThat(object.data()).isEqualTo("{\"a\":[1,true,null]}");
      assertThat(stream.next().data()).isEqualTo("12.5");
    }
  }

  @Test
  void multiLineDataArrivesWithItsLineBreaks() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=log")) {
      f.publish("{\"topic\": \"log\", \"data\": \"line one\\nline two\\r\\nline three\\n\"}");
      assertThat(stream.next().data()).isEqualTo("line one\nline two\nline three\n");
    }
  }

  @Test
  void resumesAfterDisconnectWithLastEventIdWithoutGapOrDuplicate() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      resumes(f);
    }
  }

  /** Reads two events, disconnects, misses three, resumes from the second: gets exactly three. */
  static void resumes(HubFixture f) throws Exception {
    List<String> ids = new ArrayList<>();
    String resumeFrom;
    try (SseStream first = f.subscribe("?topic=orders")) {
      ids.add(f.publish("{\"topic\": \"orders\", \"data\": \"1\"}"));
      ids.add(f.publish("{\"topic\": \"orders\", \"data\": \"2\"}"));
      assertThat(first.next(2)).extracting(Event::data).containsExactly("1", "2");
      resumeFrom = ids.get(1);
    }
    for (int i = 3; i <= 5; i++) {
      ids.add(f.publish("{\"topic\": \"orders\", \"data\": \"" + i + "\"}"));
    }
    try (SseStream again = f.subscribe("?topic=orders", "Last-Event-ID", resumeFrom)) {
      List<Event> replayed = again.next(3);
      assertThat(replayed).extracting(Event::data).containsExactly("3", "4", "5");
      assertThat(replayed).extracting(e -> e.id().orElseThrow()).isEqualTo(ids.subList(2, 5));
      String live = f.publish("{\"topic\": \"orders\", \"data\": \"6\"}");
      Event next = again.next();
      assertThat(next.id()).hasValue(live);
      assertThat(next.data()).isEqualTo("6");
    }
  }

  @Test
  void lastEventIdQueryParameterResumesAndTheHeaderWins() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      String a = f.publish("{\"topic\": \"q\", \"data\": \"a\"}");
      String b = f.publish("{\"topic\": \"q\", \"data\": \"b\"}");
      f.publish("{\"topic\": \"q\", \"data\": \"c\"}");
      try (SseStream query = f.subscribe("?topic=q&lastEventId=" + a)) {
        assertThat(query.next(2)).extracting(Event::data).containsExactly("b", "c");
      }
      try (SseStream both = f.subscribe("?topic=q&lastEventId=" + a, "Last-Event-ID", b)) {
        assertThat(both.next().data()).isEqualTo("c");
      }
    }
  }

  @Test
  void eventPublishedToSeveralSubscribedTopicsArrivesOnce() throws Exception {
    try (HubFixture f = HubFixture.memory();
        SseStream stream = f.subscribe("?topic=a&topic=b&topic=a")) {
      String both = f.publish("{\"topics\": [\"a\", \"b\", \"a\"], \"data\": \"both\"}");
      f.publish("{\"topic\": \"b\", \"data\": \"marker\"}");
      Event first = stream.next();
      assertThat(first.id()).hasValue(both);
      assertThat(stream.next().data()).isEqualTo("marker");
    }
  }

  @Test
  void earliestReplaysAllRetainedHistoryThenLive() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      f.publish("{\"topic\": \"h\", \"data\": \"1\"}");
      f.publish("{\"topic\": \"other\", \"data\": \"x\"}");
      f.publish("{\"topic\": \"h\", \"data\": \"2\"}");
      try (SseStream stream = f.subscribe("?topic=h", "Last-Event-ID", "earliest")) {
        assertThat(stream.next(2)).extracting(Event::data).containsExactly("1", "2");
        f.publish("{\"topic\": \"h\", \"data\": \"3\"}");
        assertThat(stream.next().data()).isEqualTo("3");
      }
    }
  }

  @Test
  void unknownLastEventIdStartsWithResetThenAllHistory() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      f.publish("{\"topic\": \"r\", \"data\": \"1\"}");
      try (SseStream stream = f.subscribe("?topic=r", "Last-Event-ID", "not-an-id")) {
        Event reset = stream.next();
        assertThat(reset.type()).isEqualTo("reset");
        assertThat(reset.id()).isEmpty();
        assertThat(HubFixture.json(reset.data()))
            .isEqualTo(HubFixture.json("{\"lastEventId\":\"not-an-id\",\"reason\":\"unknown\"}"));
        assertThat(stream.next().data()).isEqualTo("1");
      }
    }
  }

  @Test
  void expiredLastEventIdStartsWithResetThenRetainedHistory() throws Exception {
    try (HubFixture f =
        new HubFixture(
            Hub.builder()
                .log(
                    dev.herald.server.MemoryEventLog.builder()
                        .retention(new Retention(2, Duration.ofHours(1)))
                        .build()))) {
      String first = f.publish("{\"topic\": \"x\", \"data\": \"1\"}");
      for (int i = 2; i <= 4; i++) {
        f.publish("{\"topic\": \"x\", \"data\": \"" + i + "\"}");
      }
      try (SseStream stream = f.subscribe("?topic=x", "Last-Event-ID", first)) {
        Event reset = stream.next();
        assertThat(reset.type()).isEqualTo("reset");
        assertThat(HubFixture.json(reset.data()))
            .isEqualTo(
                HubFixture.json("{\"lastEventId\":\"" + first + "\",\"reason\":\"expired\"}"));
        assertThat(stream.next(2)).extracting(Event::data).containsExactly("3", "4");
      }
    }
  }

  @Test
  void idleStreamGetsHeartbeatComments() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().heartbeat(Duration.ofMillis(100)));
        SseStream stream = f.subscribe("?topic=quiet")) {
      assertThat(stream.comment(Duration.ofSeconds(5))).isEqualTo("ok");
      assertThat(stream.comment(Duration.ofSeconds(5))).as("a heartbeat").isEqualTo("");
      assertThat(stream.comment(Duration.ofSeconds(5))).as("another heartbeat").isEqualTo("");
    }
  }

  @Test
  void slowConsumerIsClosedWhileFastSubscriberReceivesEverything() throws Exception {
    int events = 400;
    String payload = "x".repeat(32 * 1024);
    // Room for a few frames: the fast reader's last write may not be counted as done yet.
    try (HubFixture f = new HubFixture(Hub.builder().maxBufferBytes(256 * 1024));
        SseStream fast = f.subscribe("?topic=firehose");
        Socket slow = new Socket()) {
      slow.setReceiveBufferSize(4096);
      slow.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      slow.getOutputStream()
          .write(
              ("GET /events?topic=firehose HTTP/1.1\r\nHost: x\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      slow.getOutputStream().flush();
      // The slow client's stream is open once a publish reaches the fast one after it subscribed.
      waitForSubscriptions(f, 2);
      // Paced by the fast reader, so only the slow one ever has unsent bytes piling up.
      for (int i = 0; i < events; i++) {
        f.publish("{\"topic\": \"firehose\", \"data\": \"" + i + payload + "\"}");
        assertThat(fast.next().data()).startsWith(i + "x");
      }
      // Now read what the slow client was sent: the hub must have closed it, long before the end.
      slow.setSoTimeout(10_000);
      long total = 0;
      byte[] buffer = new byte[65536];
      InputStream in = slow.getInputStream();
      try {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          total += n;
        }
      } catch (java.net.SocketException reset) {
        // A reset is a close too.
      }
      assertThat(total).isLessThan((long) events * payload.length() / 2);
      assertThat(f.get("/metrics").body())
          .containsPattern("herald_slow_consumer_closes_total(\\{[^}]*\\})? 1\\.0");
    }
  }

  /** Bounded wait until the hub reports {@code n} active subscriptions. */
  static void waitForSubscriptions(HubFixture f, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String line = "herald_subscriptions_active " + n + ".0";
    while (!f.get("/metrics").body().contains(line)) {
      assertThat(System.nanoTime()).as("%d subscriptions within 10 s", n).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  @Test
  void gracefulCloseEndsEveryStreamCleanly() throws Exception {
    HubFixture f = HubFixture.memory();
    try (SseStream a = f.subscribe("?topic=a");
        SseStream b = f.subscribe("", "Member-ID", "bob")) {
      f.publish("{\"topic\": \"a\", \"data\": \"before\"}");
      assertThat(a.next().data()).isEqualTo("before");
      long start = System.nanoTime();
      f.close();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(a.awaitEnd(Duration.ofSeconds(5))).isTrue();
      assertThat(b.awaitEnd(Duration.ofSeconds(5))).isTrue();
      assertThat(a.endedCleanly()).as("terminating chunk seen").isTrue();
      assertThat(b.endedCleanly()).as("terminating chunk seen").isTrue();
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      answersPipelinedRequestsInOrder(f);
    }
  }

  /** A publish and a health check in one write: the 201 must come first. */
  static void answersPipelinedRequestsInOrder(HubFixture f) throws Exception {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      socket.setSoTimeout(10_000);
      String body = "{\"topic\": \"p\", \"data\": \"x\"}";
      String requests =
          "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + "Content-Length: "
              + body.length()
              + "\r\n\r\n"
              + body
              + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      socket.getOutputStream().write(requests.getBytes(StandardCharsets.US_ASCII));
      String answers = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answers).contains("HTTP/1.1 201 Created").contains("HTTP/1.1 200 OK");
      assertThat(answers.indexOf("201 Created")).isLessThan(answers.indexOf("200 OK"));
    }
  }

  @Test
  void healthReadinessAndMetricsAnswer() throws Exception {
    try (HubFixture f = HubFixture.memory()) {
      assertThat(f.get("/healthz").statusCode()).isEqualTo(200);
      assertThat(f.get("/readyz").statusCode()).isEqualTo(200);
      f.publish("{\"topic\": \"m\", \"data\": \"1\"}");
      HttpResponse<String> metrics = f.get("/metrics");
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
      assertThat(metrics.body())
          .contains("herald_connections")
          .contains("herald_subscriptions_active")
          .contains("herald_subscriptions_closed_total")
          .contains("herald_events_delivered_total")
          .contains("herald_events_replayed_total")
          .contains("herald_publish_latency_seconds_bucket")
          .contains("herald_store_errors_total")
          .contains("herald_events_published_total 1.0");
    }
  }
}
