package dev.herald.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.EventSource;
import dev.herald.core.Event;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Servlet adapter on a real Jetty 12, with real HTTP clients over 127.0.0.1. */
@Timeout(90)
class ServletSseTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final Map<CloseReason, AtomicInteger> closes = new ConcurrentHashMap<>();
  private Broker broker;
  private Server server;
  private int port;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
    if (broker != null) {
      broker.close();
    }
  }

  private void start(Duration heartbeat, long maxBufferBytes) throws Exception {
    broker =
        Broker.builder()
            .heartbeat(heartbeat)
            .listener(
                new BrokerListener() {
                  @Override
                  public void subscriptionClosed(CloseReason reason) {
                    closes.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
                  }
                })
            .build();
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    SseServlet servlet =
        new SseServlet(ServletSse.builder(broker).maxBufferBytes(maxBufferBytes).build());
    // The five lines users write (see SseServlet's Javadoc).
    context.addServlet(servlet, "/events").setAsyncSupported(true);
    server.setHandler(context);
    server.start();
    port = connector.getLocalPort();
  }

  private void start() throws Exception {
    start(Duration.ofSeconds(15), ServletSse.DEFAULT_MAX_BUFFER_BYTES);
  }

  private URI uri(String query) {
    return URI.create("http://127.0.0.1:" + port + "/events?" + query);
  }

  private StoredEvent publish(String topic, String data) throws Exception {
    return broker.publish(Publication.of(topic, Event.of(data))).get(10, TimeUnit.SECONDS);
  }

  private int closedAs(CloseReason reason) {
    AtomicInteger count = closes.get(reason);
    return count == null ? 0 : count.get();
  }

  @Test
  void streamOpensWithExactHeadersAndAFlushedCommentThenDeliversWhatIsPublished() throws Exception {
    start();
    try (SseConnection connection = SseConnection.open(uri("topic=prices"))) {
      HttpResponse<InputStream> response = connection.response();
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type"))
          .hasValue("text/event-stream; charset=utf-8");
      assertThat(response.headers().firstValue("Cache-Control")).hasValue("no-store");
      assertThat(response.headers().firstValue("X-Accel-Buffering")).hasValue("no");
      assertThat(broker.subscriptionCount()).isEqualTo(1);

      // Seeing the head means the subscription is live: this event must arrive.
      StoredEvent event = publish("prices", "{\"eur\": 1.08}");

      Event received = connection.next(WAIT);
      assertThat(received.id()).hasValue(Long.toString(event.id()));
      assertThat(received.data()).isEqualTo("{\"eur\": 1.08}");
      assertThat(connection.comments()).first().isEqualTo("ok");
    }
  }

  @Test
  void openingCommentArrivesBeforeAnyEvent() throws Exception {
    start();
    try (Socket socket = rawSubscribe("topic=t")) {
      String head = readUntil(socket, ":ok\n");
      assertThat(head).startsWith("HTTP/1.1 200").contains(":ok\n");
    }
  }

  @Test
  void missingOrInvalidTopicsAreRefusedWithJsonErrors() throws Exception {
    start();
    HttpResponse<String> none = SseConnection.get(uri(""));
    HttpResponse<String> invalid = SseConnection.get(uri("topic=a%01b"));
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < 33; i++) {
      many.append("topic=t").append(i).append('&');
    }
    HttpResponse<String> tooMany = SseConnection.get(uri(many.toString()));

    assertThat(none.statusCode()).isEqualTo(400);
    assertThat(none.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("application/json");
    assertThat(none.body()).startsWith("{\"error\":\"topic_missing\",\"message\":\"");
    assertThat(invalid.statusCode()).isEqualTo(400);
    assertThat(invalid.body())
        .startsWith("{\"error\":\"topic_invalid\",\"message\":\"")
        .contains("control characters");
    assertThat(tooMany.statusCode()).isEqualTo(400);
    assertThat(tooMany.body()).startsWith("{\"error\":\"too_many_topics\"");
    assertThat(broker.subscriptionCount()).isZero();
  }

  @Test
  void resumesAfterDisconnectWithoutGapOrDuplicate() throws Exception {
    start();
    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      published.add(publish(i % 2 == 0 ? "a" : "b", "history " + i));
    }
    List<String> received = new ArrayList<>();
    // First connection: everything retained, then live; drop it part-way.
    try (SseConnection first =
        SseConnection.open(uri("topic=a&topic=b"), Map.of("Last-Event-ID", "earliest"))) {
      for (Event event : first.take(50, WAIT)) {
        received.add(event.id().orElseThrow());
      }
      for (int i = 0; i < 20; i++) {
        published.add(publish("a", "live " + i));
      }
      for (Event event : first.take(10, WAIT)) {
        received.add(event.id().orElseThrow());
      }
    }
    // Published while nobody listens: must be replayed.
    for (int i = 0; i < 20; i++) {
      published.add(publish("b", "missed " + i));
    }
    String resumeFrom = received.get(received.size() - 1);
    try (SseConnection second =
        SseConnection.open(uri("topic=a&topic=b"), Map.of("Last-Event-ID", resumeFrom))) {
      for (Event event : second.take(30, WAIT)) {
        received.add(event.id().orElseThrow());
      }
      StoredEvent live = publish("a", "after resume");
      published.add(live);
      assertThat(second.next(WAIT).id()).hasValue(Long.toString(live.id()));
      received.add(Long.toString(live.id()));
    }
    // A browser resumes with ?lastEventId= instead of the header.
    try (SseConnection third =
        SseConnection.open(uri("topic=a&topic=b&lastEventId=" + received.get(89)))) {
      Event event = third.next(WAIT);
      assertThat(event.id()).hasValue(received.get(90));
    }

    assertThat(received)
        .containsExactlyElementsOf(published.stream().map(e -> Long.toString(e.id())).toList());
  }

  @Test
  void heraldClientResumesExactlyThroughRepeatedReconnectsWhilePublishing() throws Exception {
    // Short heartbeats, so the server soon writes to, and releases, each dropped connection.
    start(Duration.ofMillis(100), ServletSse.DEFAULT_MAX_BUFFER_BYTES);
    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      published.add(publish("t", "history " + i));
    }
    java.util.concurrent.BlockingQueue<Event> received =
        new java.util.concurrent.LinkedBlockingQueue<>();
    try (EventSource source =
        EventSource.builder(uri("topic=t"))
            .lastEventId("earliest")
            .reconnectionTime(Duration.ofMillis(10))
            .build()) {
      source.addEventListener("message", received::add);
      source.start();
      for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 20; i++) {
          published.add(publish("t", "round " + round + " event " + i));
        }
        // Drop the connection mid-stream; the client reconnects with Last-Event-ID.
        source.restart();
      }
      List<String> ids = new ArrayList<>();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (ids.size() < published.size() && System.nanoTime() < deadline) {
        Event event = received.poll(100, TimeUnit.MILLISECONDS);
        if (event != null) {
          ids.add(event.id().orElseThrow());
        }
      }

      assertThat(ids)
          .containsExactlyElementsOf(published.stream().map(e -> Long.toString(e.id())).toList());
      assertThat(received.poll(200, TimeUnit.MILLISECONDS)).as("nothing more").isNull();
      assertThat(BrokerTest.eventually(() -> broker.subscriptionCount() == 1))
          .as("dropped connections released")
          .isTrue();
    }
  }

  @Test
  void headerWinsOverQueryAndUnknownIdsGetAReset() throws Exception {
    start();
    StoredEvent first = publish("t", "one");
    StoredEvent second = publish("t", "two");
    String query = "topic=t&lastEventId=" + URLEncoder.encode("not an id", UTF_8);
    try (SseConnection header =
            SseConnection.open(uri(query), Map.of("Last-Event-ID", Long.toString(first.id())));
        SseConnection unknown = SseConnection.open(uri(query))) {
      assertThat(header.next(WAIT).id()).hasValue(Long.toString(second.id()));

      Event reset = unknown.next(WAIT);
      assertThat(reset.type()).isEqualTo("reset");
      assertThat(reset.id()).isEmpty();
      assertThat(reset.data()).isEqualTo("{\"lastEventId\":\"not an id\",\"reason\":\"unknown\"}");
      assertThat(unknown.take(2, WAIT))
          .extracting(e -> e.id().orElseThrow())
          .containsExactly(Long.toString(first.id()), Long.toString(second.id()));
    }
  }

  @Test
  void stalledReaderIsCutOffWhileFastReadersGetEverything() throws Exception {
    long limit = 64 * 1024;
    start(Duration.ofSeconds(15), limit);
    String payload = "x".repeat(2000);
    int events = 4000; // about 8 MB: far beyond what the stalled socket's buffers hold
    int burst = 20; // 40 KB: within what a reader that keeps up may have outstanding
    try (Socket stalled = new Socket()) {
      stalled.setReceiveBufferSize(4096);
      stalled.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      stalled
          .getOutputStream()
          .write("GET /events?topic=t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(UTF_8));
      stalled.getOutputStream().flush();
      try (SseConnection fast1 = SseConnection.open(uri("topic=t"));
          SseConnection fast2 = SseConnection.open(uri("topic=t"))) {
        assertThat(BrokerTest.eventually(() -> broker.subscriptionCount() == 3)).isTrue();
        for (int sent = 0; sent < events; ) {
          for (int i = 0; i < burst; i++, sent++) {
            publish("t", sent + ":" + payload);
          }
          // The readers that read keep up; the stalled one does not hold anybody back.
          for (SseConnection fast : List.of(fast1, fast2)) {
            for (Event event : fast.take(burst, WAIT)) {
              // In order, none skipped: event n carries n.
              assertThat(event.data()).startsWith(counted.getOrDefault(fast, 0) + ":");
              counted.merge(fast, 1, Integer::sum);
            }
          }
        }
        assertThat(counted.get(fast1)).isEqualTo(events);
        assertThat(counted.get(fast2)).isEqualTo(events);
        assertThat(closedAs(CloseReason.SLOW_CONSUMER)).isEqualTo(1);
        assertThat(broker.subscriptionCount()).isEqualTo(2);
      }
      // The server ended the stalled stream: reading what is left reaches its end.
      assertThat(readsToEnd(stalled)).as("stalled stream ended by the server").isTrue();
    }
  }

  private final Map<SseConnection, Integer> counted = new java.util.IdentityHashMap<>();

  @Test
  void disconnectedClientsReleaseTheirSubscriptions() throws Exception {
    // Heartbeats are what find idle connections whose client went away.
    start(Duration.ofMillis(20), ServletSse.DEFAULT_MAX_BUFFER_BYTES);
    int cycles = 2000;
    for (int i = 0; i < cycles; i++) {
      try (Socket socket = rawSubscribe("topic=t" + (i % 10))) {
        readUntil(socket, ":ok\n");
      }
    }

    assertThat(BrokerTest.eventually(() -> broker.subscriptionCount() == 0))
        .as("subscriptions left: %d", broker.subscriptionCount())
        .isTrue();
    assertThat(closedAs(CloseReason.WRITE_FAILED) + closedAs(CloseReason.CLIENT_CLOSED))
        .isEqualTo(cycles);
  }

  @Test
  void brokerShutdownEndsStreamsCleanly() throws Exception {
    start();
    try (SseConnection connection = SseConnection.open(uri("topic=t"))) {
      StoredEvent event = publish("t", "last words");
      assertThat(connection.next(WAIT).id()).hasValue(Long.toString(event.id()));

      broker.close();

      assertThat(connection.awaitEnd(WAIT)).isTrue();
      assertThat(connection.endedCleanly()).as("end of stream, not an error").isTrue();
      assertThat(closedAs(CloseReason.SHUTDOWN)).isEqualTo(1);
    }
    HttpResponse<String> refused = SseConnection.get(uri("topic=t"));
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.body()).startsWith("{\"error\":\"shutting_down\"");
  }

  private Socket rawSubscribe(String query) throws Exception {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    OutputStream out = socket.getOutputStream();
    out.write(("GET /events?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(UTF_8));
    out.flush();
    return socket;
  }

  /** Reads until {@code marker} has been seen; returns everything read. */
  private static String readUntil(Socket socket, String marker) throws Exception {
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    byte[] buffer = new byte[4096];
    while (!seen.toString(UTF_8).contains(marker)) {
      int n = in.read(buffer);
      if (n < 0) {
        throw new AssertionError("stream ended before " + marker + ": " + seen.toString(UTF_8));
      }
      seen.write(buffer, 0, n);
    }
    return seen.toString(UTF_8);
  }

  /**
   * Reads until the response ends — its terminating chunk, or the connection closing — (true) or
   * until nothing arrives for ten seconds (false).
   */
  private static boolean readsToEnd(Socket socket) throws Exception {
    socket.setSoTimeout(10_000);
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[64 * 1024];
    byte[] tail = new byte[0];
    byte[] terminator = "\r\n0\r\n\r\n".getBytes(UTF_8);
    for (long total = 0; total < 64L << 20; ) {
      int n;
      try {
        n = in.read(buffer);
      } catch (SocketTimeoutException e) {
        return false;
      } catch (java.net.SocketException e) {
        return true; // reset
      }
      if (n < 0) {
        return true;
      }
      total += n;
      byte[] joined = new byte[Math.min(tail.length + n, 64)];
      int fromTail = Math.max(0, joined.length - n);
      System.arraycopy(tail, tail.length - fromTail, joined, 0, fromTail);
      System.arraycopy(
          buffer, n - (joined.length - fromTail), joined, fromTail, joined.length - fromTail);
      tail = joined;
      String end = new String(tail, java.nio.charset.StandardCharsets.ISO_8859_1);
      if (end.endsWith(new String(terminator, java.nio.charset.StandardCharsets.ISO_8859_1))) {
        return true;
      }
    }
    return false;
  }
}
