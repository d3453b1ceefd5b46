package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.hub.RawConnection.Response;
import dev.herald.hub.internal.http.ConnectionLimiter;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Clients that hold connections without finishing a request (slowloris), over real sockets: the
 * head, body and idle timeouts close them (streams excepted), a connection over the limit is
 * refused as soon as it opens, and probes are still answered when the hub is full.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubSlowClientTest {
  private static final Duration SHORT = Duration.ofMillis(300);

  /** Far longer than any timeout under test: what ends within it was not waited out. */
  private static final Duration BOUND = Duration.ofSeconds(5);

  private static final String HEALTHZ = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

  private static Hub.Builder shortTimeouts() {
    return Hub.builder().requestHeadTimeout(SHORT).requestBodyTimeout(SHORT).idleTimeout(SHORT);
  }

  @Test
  void closesASilentConnectionAfterTheHeadTimeoutWithoutAnAnswer() throws Exception {
    try (HubFixture f = new HubFixture(shortTimeouts());
        RawConnection silent = RawConnection.open(f.hub)) {
      assertThat(silent.awaitEnd(BOUND)).isTrue();
      assertThat(silent.received()).isEmpty();
    }
  }

  @Test
  void answersAHalfHeadWith408AndCloses() throws Exception {
    try (HubFixture f = new HubFixture(shortTimeouts());
        RawConnection half = RawConnection.open(f.hub)) {
      half.send("POST /events HTTP/1.1\r\nHost: x\r\n");
      requestTimeout(half.responsesUntilEnd());
    }
  }

  @Test
  void answersAHalfBodyWith408AndClosesAndPublishesNothing() throws Exception {
    try (HubFixture f = new HubFixture(shortTimeouts());
        SseStream witness = f.subscribe("?topic=slow");
        RawConnection half = RawConnection.open(f.hub)) {
      half.send(
          "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + "Content-Length: 30\r\n\r\n{\"topic\":\"slow\",");
      requestTimeout(half.responsesUntilEnd());
      String marker = f.publish("{\"topic\": \"slow\", \"data\": \"marker\"}");
      assertThat(witness.next().id()).hasValue(marker);
    }
  }

  @Test
  void bytesDrippedIntoAHeadDoNotExtendItsTimeout() throws Exception {
    try (HubFixture f = new HubFixture(shortTimeouts());
        RawConnection drip = RawConnection.open(f.hub)) {
      drip.send("GET /healthz HTTP/1.1\r\nX-Drip: ");
      long deadline = System.nanoTime() + BOUND.toNanos();
      // One byte every 50 ms, far more often than the timeout, until the hub gives up.
      while (!drip.awaitEnd(Duration.ofMillis(50))) {
        assertThat(System.nanoTime()).as("closed within %s", BOUND).isLessThan(deadline);
        drip.send("a");
      }
      requestTimeout(Response.parseAll(drip.received()));
    }
  }

  @Test
  void closesAKeepAliveConnectionIdleLongerThanTheIdleTimeout() throws Exception {
    try (HubFixture f =
            new HubFixture(
                Hub.builder().requestHeadTimeout(Duration.ofSeconds(20)).idleTimeout(SHORT));
        RawConnection idle = RawConnection.open(f.hub)) {
      idle.send(HEALTHZ).await("{\"status\":\"up\"}", BOUND);
      List<Response> responses = idle.responsesUntilEnd();
      assertThat(responses).extracting(Response::status).containsExactly(200);
      assertThat(responses.get(0).headers()).containsEntry("connection", "keep-alive");
    }
  }

  @Test
  void neverTimesOutAnOpenStream() throws Exception {
    try (HubFixture f = new HubFixture(shortTimeouts().heartbeat(Duration.ZERO));
        SseStream stream = f.subscribe("?topic=quiet")) {
      // A connection opened after the stream is closed by the timeouts: the stream, older and as
      // silent, has outlived them all.
      try (RawConnection later = RawConnection.open(f.hub)) {
        assertThat(later.awaitEnd(BOUND)).isTrue();
      }
      String id = f.publish("{\"topic\": \"quiet\", \"data\": \"still here\"}");
      assertThat(stream.next().id()).hasValue(id);
      assertThat(stream.awaitEnd(Duration.ZERO)).isFalse();
    }
  }

  @Test
  void letsARealClientInOnceTheSilentConnectionsFillingTheLimitTimeOut() throws Exception {
    // Long enough for the hub to be seen full before the silent connections time out.
    try (HubFixture f =
        new HubFixture(Hub.builder().maxConnections(3).requestHeadTimeout(Duration.ofSeconds(2)))) {

      List<RawConnection> silent = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          silent.add(RawConnection.open(f.hub));
        }
        RawConnection.awaitOpenConnections(f.hub, 3);
        HttpResponse<String> refused = f.post("{\"topic\": \"t\", \"data\": \"x\"}");
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(HubFixture.json(refused.body()).get("error").asText())
            .isEqualTo("too_many_connections");
        for (RawConnection connection : silent) {
          assertThat(connection.awaitEnd(BOUND)).isTrue();
        }
        // The hub counts a connection out just after closing it: a 503 may still come first.
        long deadline = System.nanoTime() + BOUND.toNanos();
        HttpResponse<String> admitted = f.post("{\"topic\": \"t\", \"data\": \"x\"}");
        while (admitted.statusCode() == 503 && System.nanoTime() < deadline) {
          admitted = f.post("{\"topic\": \"t\", \"data\": \"x\"}");
        }
        assertThat(admitted.statusCode()).isEqualTo(201);
      } finally {
        for (RawConnection connection : silent) {
          connection.close();
        }
      }
    }
  }

  @Test
  void refusesAConnectionOverTheLimitAndTheProbeReserveAsSoonAsItOpens() throws Exception {
    int beyond = 3;
    // A head timeout far longer than the test: only an answer at once ends a connection here.
    try (HubFixture f =
        new HubFixture(
            Hub.builder().maxConnections(1).requestHeadTimeout(Duration.ofSeconds(60)))) {

      List<RawConnection> connections = new ArrayList<>();
      try {
        // The place, then both reserves (the shed reserve's and the probe reserve's), all silent.
        int held = 1 + ConnectionLimiter.SHED_RESERVE + ConnectionLimiter.PROBE_RESERVE;
        for (int i = 0; i < held - 1; i++) {
          connections.add(RawConnection.open(f.hub));
        }
        // The probe asking for /metrics holds the last place of the probe reserve meanwhile.
        RawConnection.awaitOpenConnections(f.hub, held - 1);
        // The last place, once the probe has given it back: a connection that takes it stays.
        RawConnection last = RawConnection.open(f.hub);
        connections.add(last);
        while (last.awaitEnd(Duration.ofMillis(300))) {
          last = RawConnection.open(f.hub);
          connections.add(last);
        }
        List<RawConnection> refused = new ArrayList<>();
        for (int i = 0; i < beyond; i++) {
          RawConnection connection = RawConnection.open(f.hub);
          connections.add(connection);
          refused.add(connection);
        }
        for (RawConnection connection : refused) {
          assertThat(connection.awaitEnd(BOUND)).as("refused within %s", BOUND).isTrue();
        }
        for (RawConnection connection : refused) {
          List<Response> responses = Response.parseAll(connection.received());
          assertThat(responses).hasSize(1);
          assertThat(responses.get(0).status()).isEqualTo(503);
          assertThat(responses.get(0).error()).isEqualTo("too_many_connections");
          assertThat(responses.get(0).headers()).containsKey("retry-after");
        }
      } finally {
        for (RawConnection connection : connections) {
          connection.close();
        }
      }
    }
  }

  @Test
  void answersProbesButNothingElseWhenTheHubIsFull() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
        SseStream full = f.subscribe("?topic=full")) {
      answersProbesOnly(f);
      assertThat(full.awaitEnd(Duration.ZERO)).as("the stream holding the place stays").isFalse();
    }
  }

  @Test
  void answersProbesButNothingElseOverTheNewConnectionRate() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxNewConnectionsPerSecond(1));
        RawConnection first = RawConnection.open(f.hub)) {
      // The first connection took the second's token: every one opened now is over the rate.
      first.send(HEALTHZ).await("{\"status\":\"up\"}", BOUND);
      answersProbesOnly(f);
    }
  }

  /** Probes are answered (and their connection closed); a publish is refused. */
  private static void answersProbesOnly(HubFixture f) throws Exception {
    for (String probe : List.of("/healthz", "/readyz", "/metrics")) {
      try (RawConnection connection = RawConnection.open(f.hub)) {
        connection.send("GET " + probe + " HTTP/1.1\r\nHost: x\r\n\r\n");
        List<Response> responses = connection.responsesUntilEnd();
        assertThat(responses).extracting(Response::status).as(probe).containsExactly(200);
        assertThat(responses.get(0).headers()).containsEntry("connection", "close");
      }
    }
    try (RawConnection connection = RawConnection.open(f.hub)) {
      String body = "{\"topic\":\"full\",\"data\":\"x\"}";
      connection.send(
          "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
              + body.length()
              + "\r\n\r\n"
              + body);
      List<Response> responses = connection.responsesUntilEnd();
      assertThat(responses).extracting(Response::status).containsExactly(503);
      assertThat(responses.get(0).error()).isEqualTo("too_many_connections");
    }
  }

  private static void requestTimeout(List<Response> responses) throws Exception {
    assertThat(responses).hasSize(1);
    assertThat(responses.get(0).status()).isEqualTo(408);
    assertThat(responses.get(0).error()).isEqualTo("request_timeout");
    assertThat(responses.get(0).headers()).containsEntry("connection", "close");
  }
}
