package dev.herald.server.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.EventSource;
import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.BrokerListener;
import dev.herald.server.CloseReason;
import dev.herald.server.Conditions;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Servlet adapter on real containers (Jetty 12 and Tomcat, see {@link ServletContainer#all}),
 * with real HTTP clients over 127.0.0.1.
 */
@Timeout(90)
@Tag("servlet-container") // the tag the build's Tomcat 11 run selects
class EventStreamsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  /** Runs the test once on each container of {@link ServletContainer#all}. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.METHOD)
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.herald.server.servlet.ServletContainer#all")
  @interface OnEachContainer {}

  private final Map<CloseReason, AtomicInteger> closes = new ConcurrentHashMap<>();
  private final AtomicInteger opened = new AtomicInteger();
  private Broker broker;
  private ServletContainer container;
  private int port;

  @AfterEach
  void stop() throws Exception {
    // The broker first, as an application would: its streams end, then the container stops.
    if (broker != null) {
      broker.close();
    }
    if (container != null) {
      container.close();
    }
  }

  private void start(
      ServletContainer container,
      Duration heartbeat,
      long maxBufferBytes,
      ServletContainer.Chain chain)
      throws Exception {
    broker =
        Broker.builder()
            .heartbeat(heartbeat)
            .listener(
                new BrokerListener() {
                  @Override
                  public void subscriptionOpened() {
                    opened.incrementAndGet();
                  }

                  @Override
                  public void subscriptionClosed(CloseReason reason) {
                    closes.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
                  }
                })
            .build();
    this.container = container;
    port =
        container.start(
            new EventStreamServlet(
                EventStreams.builder(broker).maxBufferBytes(maxBufferBytes).build()),
            chain);
  }

  private void start(ServletContainer container, Duration heartbeat, long maxBufferBytes)
      throws Exception {
    start(container, heartbeat, maxBufferBytes, ServletContainer.Chain.ASYNC);
  }

  private void start(ServletContainer container) throws Exception {
    start(container, Duration.ofSeconds(15), EventStreams.DEFAULT_MAX_BUFFER_BYTES);
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

  @OnEachContainer
  void streamOpensWithExactHeadersAndAFlushedCommentThenDeliversWhatIsPublished(
      ServletContainer container) throws Exception {
    start(container);
    try (SseConnection connection = SseConnection.open(uri("topic=prices"))) {
      HttpResponse<InputStream> response = connection.response();
      assertThat(response.statusCode()).isEqualTo(200);
      // Tomcat writes "text/event-stream;charset=utf-8": the same media type and charset.
      assertThat(response.headers().firstValue("Content-Type").map(EventStreamsTest::normalized))
          .hasValue("text/event-stream;charset=utf-8");
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

  @OnEachContainer
  void openingCommentArrivesBeforeAnyEvent(ServletContainer container) throws Exception {
    start(container);
    try (Socket socket = rawSubscribe("topic=t")) {
      String head = readUntil(socket, ":ok\n");
      assertThat(head).startsWith("HTTP/1.1 200").contains(":ok\n");
    }
  }

  @OnEachContainer
  void missingOrInvalidTopicsAreRefusedWithJsonErrors(ServletContainer container) throws Exception {
    start(container);
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

  @OnEachContainer
  void resumesAfterDisconnectWithoutGapOrDuplicate(ServletContainer container) throws Exception {
    start(container);
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

  @OnEachContainer
  void heraldClientResumesExactlyThroughRepeatedReconnectsWhilePublishing(
      ServletContainer container) throws Exception {
    // Short heartbeats, so the server soon writes to, and releases, each dropped connection.
    start(container, Duration.ofMillis(100), EventStreams.DEFAULT_MAX_BUFFER_BYTES);
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
      assertThat(Conditions.eventually(() -> broker.subscriptionCount() == 1))
          .as("dropped connections released")
          .isTrue();
    }
  }

  @OnEachContainer
  void headerWinsOverQueryAndUnknownIdsGetAReset(ServletContainer container) throws Exception {
    start(container);
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

  @OnEachContainer
  void stalledReaderIsCutOffWhileFastReadersGetEverything(ServletContainer container)
      throws Exception {
    long limit = 64 * 1024;
    start(container, Duration.ofSeconds(15), limit);
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
        assertThat(Conditions.eventually(() -> broker.subscriptionCount() == 3)).isTrue();
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

  @OnEachContainer
  void disconnectedClientsReleaseTheirSubscriptions(ServletContainer container) throws Exception {
    // Heartbeats are what find idle connections whose client went away.
    start(container, Duration.ofMillis(20), EventStreams.DEFAULT_MAX_BUFFER_BYTES);
    int cycles = 2000;
    for (int i = 0; i < cycles; i++) {
      try (Socket socket = rawSubscribe("topic=t" + (i % 10))) {
        readUntil(socket, ":ok\n");
      }
    }

    assertThat(Conditions.eventually(() -> broker.subscriptionCount() == 0))
        .as("subscriptions left: %d", broker.subscriptionCount())
        .isTrue();
    assertThat(closedAs(CloseReason.WRITE_FAILED) + closedAs(CloseReason.CLIENT_CLOSED))
        .isEqualTo(cycles);
  }

  @OnEachContainer
  void streamsOpenedWhileEventsFlowStartWithTheirOpeningComment(ServletContainer container)
      throws Exception {
    // Frames reach a stream's sink from the broker's threads while the request thread is still
    // setting the stream up. None may be written before the container takes the write listener:
    // Tomcat 11 writes such a frame in blocking mode, racing the request thread, and the stream
    // stayed silent (seen once in CI, about one in thousands of streams under heartbeats of 20 ms).
    start(container, Duration.ofMillis(1), EventStreams.DEFAULT_MAX_BUFFER_BYTES);
    AtomicBoolean publishing = new AtomicBoolean(true);
    Thread publisher =
        new Thread(
            () -> {
              while (publishing.get()) {
                broker.publish(Publication.of("t", Event.of("x"))).join();
              }
            },
            "publisher");
    publisher.start();
    try {
      for (int i = 0; i < 500; i++) {
        try (Socket socket = rawSubscribe("topic=t")) {
          String seen = readUntil(socket, "\ndata: x\n");
          assertThat(seen.indexOf(":ok\n"))
              .as("stream %d opens with its comment: %s", i, seen)
              .isBetween(0, seen.indexOf("data: x"));
        }
      }
    } finally {
      publishing.set(false);
      publisher.join(10_000);
    }
  }

  @OnEachContainer
  void brokerShutdownEndsStreamsCleanly(ServletContainer container) throws Exception {
    start(container);
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
    // A HEAD gets the head the GET got.
    try (Socket socket = rawRequest("HEAD", "topic=t")) {
      Head head = readHead(socket);
      assertThat(head.status()).isEqualTo(503);
      assertThat(head.header("content-type")).startsWith("application/json");
    }
  }

  @OnEachContainer
  void headAnswersTheHeadersAGetWouldWithoutEverSubscribing(ServletContainer container)
      throws Exception {
    start(container);
    // Each HEAD on a kept-alive connection: the next one is only answered if the response ended,
    // and read exactly to its blank line, so any body bytes would garble the next status line.
    List<Head> heads = new ArrayList<>();
    for (int connection = 0; connection < 20; connection++) {
      try (Socket socket = rawRequest("HEAD", "topic=t" + connection)) {
        heads.add(readHead(socket));
        assertThat(opened.get()).as("subscriptions opened by HEAD requests").isZero();
        for (int i = 1; i < 10; i++) {
          send(socket, "HEAD", "topic=t" + connection + "&topic=u" + i);
          heads.add(readHead(socket));
        }
      }
    }
    // One connection each: Tomcat closes the connection after a 400.
    Head missing;
    try (Socket socket = rawRequest("HEAD", "")) {
      missing = readHead(socket);
    }
    Head invalid;
    try (Socket socket = rawRequest("HEAD", "topic=a%01b")) {
      invalid = readHead(socket);
    }

    assertThat(opened.get()).as("subscriptions opened by HEAD requests").isZero();
    assertThat(broker.subscriptionCount()).isZero();
    try (Socket socket = rawSubscribe("topic=t")) {
      String response = readUntil(socket, ":ok\n");
      Head get = Head.parse(response.substring(0, response.indexOf("\r\n\r\n") + 4));
      assertThat(heads)
          .hasSize(200)
          .allSatisfy(
              head -> {
                assertThat(head.status()).isEqualTo(200);
                for (String name : List.of("content-type", "cache-control", "x-accel-buffering")) {
                  assertThat(head.header(name)).as(name).isEqualTo(get.header(name)).isNotNull();
                }
              });
    }
    assertThat(missing.status()).isEqualTo(SseConnection.get(uri("")).statusCode()).isEqualTo(400);
    assertThat(invalid.status())
        .isEqualTo(SseConnection.get(uri("topic=a%01b")).statusCode())
        .isEqualTo(400);
    assertThat(invalid.header("content-type")).startsWith("application/json");
  }

  @OnEachContainer
  void filterWithoutAsyncSupportGetsAClearErrorAndLeavesNoSubscription(ServletContainer container)
      throws Exception {
    start(
        container,
        Duration.ofSeconds(15),
        EventStreams.DEFAULT_MAX_BUFFER_BYTES,
        ServletContainer.Chain.FILTER_NOT_ASYNC);
    assertRefusedAsNotAsyncSupported();
  }

  @OnEachContainer
  void servletWithoutAsyncSupportGetsAClearErrorAndLeavesNoSubscription(ServletContainer container)
      throws Exception {
    start(
        container,
        Duration.ofSeconds(15),
        EventStreams.DEFAULT_MAX_BUFFER_BYTES,
        ServletContainer.Chain.SERVLET_NOT_ASYNC);
    assertRefusedAsNotAsyncSupported();
  }

  private void assertRefusedAsNotAsyncSupported() throws Exception {
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> refused = SseConnection.get(uri("topic=t"));
      assertThat(refused.statusCode()).isEqualTo(500);
      assertThat(refused.headers().firstValue("Content-Type").orElseThrow())
          .startsWith("application/json");
      assertThat(refused.body())
          .startsWith("{\"error\":\"async_unsupported\",\"message\":\"")
          .contains("async-supported");
    }
    try (Socket socket = rawRequest("HEAD", "topic=t")) {
      assertThat(readHead(socket).status()).isEqualTo(500);
    }
    assertThat(opened.get()).as("subscriptions opened").isZero();
    assertThat(broker.subscriptionCount()).isZero();
  }

  @OnEachContainer
  void clientThatDisconnectsMidStreamReleasesItsSubscription(ServletContainer container)
      throws Exception {
    // Heartbeats far away: the writes of the events that follow find the connection gone.
    start(container);
    try (Socket socket = rawSubscribe("topic=t")) {
      readUntil(socket, ":ok\n");
      for (int i = 0; i < 10; i++) {
        publish("t", "before " + i);
      }
      readUntil(socket, "data: before 9\n");
    }

    assertThat(
            Conditions.eventually(
                () -> {
                  broker.publish(Publication.of("t", Event.of("after"))).join();
                  return broker.subscriptionCount() == 0;
                }))
        .as("subscription released")
        .isTrue();
    assertThat(closedAs(CloseReason.WRITE_FAILED) + closedAs(CloseReason.CLIENT_CLOSED))
        .isEqualTo(1);
  }

  /** A content type lower-cased, without the optional blanks around its parameters. */
  private static String normalized(String contentType) {
    return contentType.replaceAll("\\s*;\\s*", ";").toLowerCase(Locale.ROOT);
  }

  private Socket rawSubscribe(String query) throws Exception {
    return rawRequest("GET", query);
  }

  private Socket rawRequest(String method, String query) throws Exception {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    send(socket, method, query);
    return socket;
  }

  private static void send(Socket socket, String method, String query) throws Exception {
    OutputStream out = socket.getOutputStream();
    out.write(
        (method + " /events?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(UTF_8));
    out.flush();
  }

  /** Reads one response head, byte by byte so as not to read past its blank line. */
  private static Head readHead(Socket socket) throws Exception {
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    while (!seen.toString(UTF_8).endsWith("\r\n\r\n")) {
      if (seen.size() > 16 * 1024) {
        throw new AssertionError("no end of head in: " + seen.toString(UTF_8));
      }
      int b = in.read();
      if (b < 0) {
        throw new AssertionError("connection ended in a head: " + seen.toString(UTF_8));
      }
      seen.write(b);
    }
    return Head.parse(seen.toString(UTF_8));
  }

  /** A response's status and headers (names lower-cased; the last of repeated ones). */
  private record Head(int status, Map<String, String> headers) {
    static Head parse(String head) {
      String[] lines = head.split("\r\n");
      assertThat(lines[0]).as("status line").startsWith("HTTP/1.1 ");
      Map<String, String> headers = new java.util.HashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        headers.put(
            lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
            lines[i].substring(colon + 1).trim());
      }
      return new Head(Integer.parseInt(lines[0].substring(9, 12)), headers);
    }

    String header(String name) {
      return headers.get(name);
    }
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
