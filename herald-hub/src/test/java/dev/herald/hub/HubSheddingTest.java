package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.hub.RawConnection.Response;
import dev.herald.hub.internal.http.ConnectionLimiter;
import dev.herald.hub.testing.H2Client;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Load shedding as an EventSource understands it, on real sockets: a stream request the hub turns
 * away is answered 200 {@code text/event-stream} with a comment saying why, a jittered {@code
 * retry:} and an end; every other request keeps its 503 with {@code Retry-After}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubSheddingTest {
  private static final Duration BOUND = Duration.ofSeconds(10);
  private static final Pattern SHED = Pattern.compile(": shed ([a-z_]+)\nretry: (\\d+)\n\n");
  private static final String STREAM_REQUEST =
      "GET /events?topic=t HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
          + "Last-Event-ID: earliest\r\n\r\n";

  @Test
  void shedsAStreamRequestOverTheConnectionLimitWith200RetryAndAnEnd() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
        SseStream held = f.subscribe("?topic=held")) {
      Response shed = shed(f);
      assertThat(shed.status()).isEqualTo(200);
      assertThat(shed.headers())
          .containsEntry("content-type", "text/event-stream; charset=utf-8")
          .containsEntry("cache-control", "no-store")
          .containsEntry("connection", "close")
          .doesNotContainKey("retry-after");
      Matcher m = SHED.matcher(shed.body());
      assertThat(m.matches()).as("body %s", shed.body()).isTrue();
      assertThat(m.group(1)).isEqualTo("too_many_connections");
      // Retry-After 5 s, spread over half to one and a half times it.
      assertThat(Long.parseLong(m.group(2))).isBetween(2500L, 7500L);
      assertThat(held.awaitEnd(Duration.ZERO)).as("the stream holding the place stays").isFalse();
      assertThat(f.get("/metrics").body())
          .containsPattern("herald_refusals_total\\{reason=\"too_many_connections\"} [1-9]");
    }
  }

  @Test
  void keeps503AndRetryAfterForEveryRequestThatIsNotAStreamRequest() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
        SseStream held = f.subscribe("?topic=held")) {
      String body = "{\"topic\":\"t\",\"data\":\"x\"}";
      for (String request :
          List.of(
              // A publish, even one that says it accepts an event stream.
              "POST /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                  + "Content-Type: application/json\r\nContent-Length: "
                  + body.length()
                  + "\r\n\r\n"
                  + body,
              // A GET of /events that does not ask for an event stream (a JSON client).
              "GET /events?topic=t HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
              // Another path, asking for an event stream.
              "GET /presence?topic=t HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")) {
        try (RawConnection connection = RawConnection.open(f.hub)) {
          connection.send(request);
          List<Response> responses = connection.responsesUntilEnd();
          assertThat(responses).extracting(Response::status).as(request).containsExactly(503);
          assertThat(responses.get(0).headers()).containsKey("retry-after");
          assertThat(responses.get(0).error()).isEqualTo("too_many_connections");
        }
      }
    }
  }

  @Test
  void spreadsTheRetriesOfShedClients() throws Exception {
    int clients = 200;
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
        SseStream held = f.subscribe("?topic=held")) {
      List<Long> retries = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        Matcher m = SHED.matcher(shed(f).body());
        assertThat(m.matches()).isTrue();
        retries.add(Long.parseLong(m.group(2)));
      }
      assertThat(retries).allSatisfy(r -> assertThat(r).isBetween(2500L, 7500L));
      assertThat(new TreeSet<>(retries)).as("distinct delays").hasSizeGreaterThan(clients * 3 / 4);
      // Five buckets of a second each over 2.5-7.5 s: uniform gives 40 each; none is starved or
      // crowded beyond what chance allows (binomial, p = 0.2: 20 and 64 are beyond 4 sigma).
      int[] buckets = new int[5];
      for (long r : retries) {
        buckets[(int) Math.min(4, (r - 2500) / 1000)]++;
      }
      System.out.println(
          "shed retry histogram (s 2.5-7.5, per second): " + java.util.Arrays.toString(buckets));
      for (int count : buckets) {
        assertThat(count).isBetween(20, 64);
      }
    }
  }

  @Test
  void shedsOverTheNewConnectionRateAndThePerAddressLimit() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxNewConnectionsPerSecond(1));
        RawConnection first = RawConnection.open(f.hub)) {
      // The first connection took the second's token: the next is over the rate.
      first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await("{\"status\":\"up\"}", BOUND);
      Response shed = shed(f);
      assertThat(shed.status()).isEqualTo(200);
      Matcher m = SHED.matcher(shed.body());
      assertThat(m.matches()).isTrue();
      assertThat(m.group(1)).isEqualTo("too_many_connections");
      assertThat(Long.parseLong(m.group(2))).isBetween(500L, 1500L);
    }
    try (HubFixture f = new HubFixture(Hub.builder().maxConnectionsPerIp(1));
        SseStream held = f.subscribe("?topic=held")) {
      Response shed = shed(f);
      assertThat(shed.status()).isEqualTo(200);
      assertThat(shed.body()).startsWith(": shed too_many_connections\nretry: ");
    }
  }

  @Test
  void shedsEveryStreamRequestOfABurstOverTheRateHoweverManyAreOpenAtOnce() throws Exception {
    // More than the shed reserve, all open at once (the clients keep their connections): over the
    // rate alone each fits the connection limits, so none gets a 503 that would end an EventSource.
    int burst = ConnectionLimiter.SHED_RESERVE + 144;
    try (HubFixture f = new HubFixture(Hub.builder().maxNewConnectionsPerSecond(1))) {
      List<RawConnection> open = new ArrayList<>();
      try {
        for (int i = 0; i < burst; i++) {
          RawConnection stream = RawConnection.open(f.hub);
          open.add(stream);
          stream.send(STREAM_REQUEST);
        }
        int shed = 0;
        for (RawConnection stream : open) {
          String answer = stream.await("\r\n\r\n", BOUND);
          assertThat(answer).as("no 503 for a stream request").startsWith("HTTP/1.1 200 ");
          if (answer.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
            assertThat(stream.await(":ok\n", BOUND)).as("admitted with a token").isNotEmpty();
          } else {
            assertThat(stream.await("\n\n", BOUND))
                .contains(": shed too_many_connections\nretry: ");
            shed++;
          }
        }
        // Beyond the reserve: the bucket refills one token a second while the burst opens.
        assertThat(shed).as("shed over the rate").isGreaterThan(ConnectionLimiter.SHED_RESERVE);
      } finally {
        closeAll(open);
      }
    }
  }

  @Test
  void theDefaultsHoldARampOfTwoThousandSubscribersOpenedAtOnce() throws Exception {
    // All opened before any is awaited, far faster than the former default of 1,000 new
    // connections a second: with the defaults none is shed, and a publisher still gets in.
    int count = 2000;
    try (HubFixture f = HubFixture.memory()) {
      List<RawConnection> open = new ArrayList<>();
      try {
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
          RawConnection stream = RawConnection.open(f.hub);
          open.add(stream);
          stream.send(STREAM_REQUEST);
        }
        long openedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.println("ramp: " + count + " stream requests sent in " + openedMillis + " ms");
        for (RawConnection stream : open) {
          assertThat(stream.await(":ok\n", BOUND)).doesNotContain(": shed");
        }
        assertThat(f.post("{\"topic\": \"t\", \"data\": \"all\"}").statusCode()).isEqualTo(201);
        for (RawConnection stream : open) {
          stream.await("data: all\n", BOUND);
        }
      } finally {
        closeAll(open);
      }
    }
  }

  @Test
  void keepsAShareOfTheConnectionsForPublishersWhenStreamsFillTheirs() throws Exception {
    // 50 connections: streams may hold 49 (2% are kept), the 50th connection is a publisher's.
    int max = 50;
    int streams = Hub.maxStreams(max);
    assertThat(streams).isEqualTo(49);
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(max))) {
      List<RawConnection> open = new ArrayList<>();
      try {
        for (int i = 0; i < streams; i++) {
          RawConnection stream = RawConnection.open(f.hub);
          open.add(stream);
          stream.send(STREAM_REQUEST).await(":ok\n", BOUND);
        }
        // The next stream request is shed: the streams' share is full, the hub is not.
        try (RawConnection over = RawConnection.open(f.hub)) {
          over.send(STREAM_REQUEST);
          List<Response> responses = over.responsesUntilEnd();
          assertThat(responses).extracting(Response::status).containsExactly(200);
          assertThat(responses.get(0).body()).startsWith(": shed too_many_streams\nretry: ");
        }
        // The hub counts the shed connection gone a moment after the client sees it end (one CI
        // run's publisher came while it still counted, the 51st connection): the publisher's
        // connection is the one that saw the hub count only the streams besides it.
        try (RawConnection publisher = RawConnection.openWhenOthersAre(f.hub, streams)) {
          String body = "{\"topic\": \"t\", \"data\": \"in\"}";
          publisher.send(
              "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.length()
                  + "\r\n\r\n"
                  + body);
          // A publisher still gets in, and the event reaches every stream.
          assertThat(publisher.nextResponse(BOUND).status()).isEqualTo(201);
        }
        for (RawConnection stream : open) {
          stream.await("data: in\n", BOUND);
        }
      } finally {
        closeAll(open);
      }
    }
  }

  @Test
  void shedsARefusedHttp2StreamThatAsksForAnEventStream() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
        H2Client first = H2Client.cleartext(f.hub.address().getPort())) {
      assertThat(first.get("/healthz").status()).isEqualTo(200);
      try (H2Client over = H2Client.cleartext(f.hub.address().getPort())) {
        H2Client.Exchange shed = over.get("/events?topic=a", "accept", "text/event-stream");
        assertThat(shed.status()).isEqualTo(200);
        assertThat(shed.head().headers().get("content-type"))
            .isEqualTo("text/event-stream; charset=utf-8");
        assertThat(shed.body()).matches(SHED.pattern());
        over.closed().get(5, TimeUnit.SECONDS);
      }
      try (H2Client over = H2Client.cleartext(f.hub.address().getPort())) {
        H2Client.Exchange refused = over.get("/events?topic=a");
        assertThat(refused.status()).as("no Accept: not a stream request").isEqualTo(503);
        assertThat(refused.head().headers().get("retry-after")).isNotNull();
      }
    }
  }

  @Test
  void drainsStreamsSpreadOverTheWindowWhileServingPublishesAndSheddingNewStreams()
      throws Exception {
    int count = 300;
    Duration window = Duration.ofMillis(1500);
    HubFixture f = new HubFixture(Hub.builder().drain(window));
    List<RawConnection> open = new ArrayList<>();
    List<RawConnection> asking = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        RawConnection stream = RawConnection.open(f.hub);
        open.add(stream);
        stream.send(STREAM_REQUEST).await(":ok\n", BOUND);
      }
      // Three keep-alive connections opened before the drain, to ask during it.
      for (int i = 0; i < 3; i++) {
        RawConnection connection = RawConnection.open(f.hub);
        asking.add(connection);
        connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await("up", BOUND);
      }
      long start = System.nanoTime();
      long[] endedAt = new long[count];
      CountDownLatch firstEnd = new CountDownLatch(1);
      List<Thread> readers = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        int index = i;
        Thread reader =
            new Thread(
                () -> {
                  try {
                    if (open.get(index).awaitEnd(BOUND)) {
                      endedAt[index] = System.nanoTime() - start;
                      firstEnd.countDown();
                    }
                  } catch (java.io.IOException e) {
                    // Left at 0: counted as not ended below.
                  }
                });
        reader.start();
        readers.add(reader);
      }
      Thread closer = new Thread(f::close, "test-drain");
      closer.start();
      assertThat(firstEnd.await(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      // Mid-drain, on connections opened before it: /readyz is 503, a publish is served, a
      // stream request is shed.
      asking.get(0).send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await("shutting_down", BOUND);
      String body = "{\"topic\":\"t\",\"data\":\"during\"}";
      asking
          .get(1)
          .send(
              "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.length()
                  + "\r\n\r\n"
                  + body)
          .await("HTTP/1.1 201", BOUND);
      asking.get(2).send(STREAM_REQUEST).await(": shed draining\nretry: ", BOUND);
      for (Thread reader : readers) {
        reader.join(BOUND.toMillis());
      }
      closer.join(BOUND.toMillis());
      assertThat(closer.isAlive()).isFalse();
      for (int i = 0; i < count; i++) {
        assertThat(endedAt[i]).as("stream %d ended", i).isPositive();
        assertThat(open.get(i).received())
            .matches("(?s).*: shed draining\nretry: \\d+\n\n\r\n0\r\n\r\n");
      }
      // 300 streams at 200 a second at least: spread over 1.5 s. Thirds of the window: none may
      // hold more than half of the ends (all at once would be all in one).
      long first = java.util.Arrays.stream(endedAt).min().orElseThrow();
      int[] thirds = new int[3];
      for (long at : endedAt) {
        thirds[(int) Math.min(2, (at - first) * 3 / window.toNanos())]++;
      }
      System.out.println(
          "drain: stream ends per third of the window: " + java.util.Arrays.toString(thirds));
      for (int third : thirds) {
        assertThat(third).isLessThan(count / 2);
      }
    } finally {
      closeAll(open);
      closeAll(asking);
      f.close();
    }
  }

  private static void closeAll(List<RawConnection> connections) throws java.io.IOException {
    for (RawConnection connection : connections) {
      connection.close();
    }
  }

  /** A stream request on a fresh connection, which the hub turns away: its one response. */
  private static Response shed(HubFixture f) throws Exception {
    try (RawConnection connection = RawConnection.open(f.hub)) {
      connection.send(STREAM_REQUEST);
      List<Response> responses = connection.responsesUntilEnd();
      assertThat(responses).hasSize(1);
      return responses.get(0);
    }
  }
}
