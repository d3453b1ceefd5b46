package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.hub.testing.H2Client;
import dev.herald.hub.testing.TestCertificates;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The hub's API over each protocol it speaks — HTTP/1.1, HTTP/2 over TLS (ALPN, the JDK client) and
 * cleartext HTTP/2 by prior knowledge (a Netty client) — with the same answers: streams and
 * resumption, the JSON errors, auth, CORS, and the slow-consumer bound.
 */
class HubTransportsTest {
  @TempDir static Path dir;
  static TestCertificates.Pair cert;

  @BeforeAll
  static void certificate() throws Exception {
    cert = TestCertificates.selfSigned(dir, "transports", "EC");
  }

  /** A protocol: how to start a hub for it and talk to it. */
  enum Transport {
    HTTP_1_1,
    H2_TLS,
    H2C;

    HubFixture hub(Hub.Builder builder) {
      return new HubFixture(this == H2_TLS ? builder.tls(cert.cert(), cert.key()) : builder);
    }

    Client client(HubFixture f) throws Exception {
      int port = f.hub.address().getPort();
      return switch (this) {
        case HTTP_1_1 -> new JdkClient(f.client, "http://127.0.0.1:" + port, "HTTP_1_1", this, f);
        case H2_TLS ->
            new JdkClient(cert.http2Client(), "https://localhost:" + port, "HTTP_2", this, f);
        case H2C -> new NettyClient(H2Client.cleartext(port));
      };
    }
  }

  /** One answer, whatever the protocol. */
  record Answer(int status, HttpHeadersView headers, String body) {
    JsonNode json() throws Exception {
      return HubFixture.json(body);
    }
  }

  /** Header lookup by name in any case. */
  interface HttpHeadersView {
    String get(String name);
  }

  /** An open event stream. */
  interface Stream extends AutoCloseable {
    int status();

    String header(String name);

    /** The next event within 10 s, failing the test otherwise. */
    Event next() throws Exception;

    @Override
    void close() throws Exception;
  }

  /** A client of one protocol. */
  interface Client extends AutoCloseable {
    Answer send(String method, String path, String body, String... headers) throws Exception;

    Stream subscribe(String path, String... headers) throws Exception;

    /** A stream that stops reading once its head has arrived. */
    AutoCloseable stalled(String path) throws Exception;

    @Override
    void close() throws Exception;

    default String publish(String json, String... headers) throws Exception {
      String[] all = new String[headers.length + 2];
      all[0] = "Content-Type";
      all[1] = "application/json";
      System.arraycopy(headers, 0, all, 2, headers.length);
      Answer answer = send("POST", "/events", json, all);
      assertThat(answer.status()).as(answer.body()).isEqualTo(201);
      return answer.json().get("id").asText();
    }
  }

  /** The JDK client: HTTP/1.1 in clear, or HTTP/2 negotiated over TLS (checked on each answer). */
  static final class JdkClient implements Client {
    private final HttpClient client;
    private final String base;
    private final HttpClient.Version version;
    private final Transport transport;
    private final HubFixture f;

    JdkClient(HttpClient client, String base, String version, Transport transport, HubFixture f) {
      this.client = client;
      this.base = base;
      this.version = HttpClient.Version.valueOf(version);
      this.transport = transport;
      this.f = f;
    }

    @Override
    public Answer send(String method, String path, String body, String... headers)
        throws Exception {
      HttpRequest.Builder request =
          HttpRequest.newBuilder(URI.create(base + path))
              .timeout(Duration.ofSeconds(10))
              .method(
                  method,
                  body == null
                      ? HttpRequest.BodyPublishers.noBody()
                      : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
      if (headers.length > 0) {
        request.headers(headers);
      }
      HttpResponse<String> response =
          client.send(request.build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.version()).isEqualTo(version);
      return new Answer(
          response.statusCode(),
          name -> response.headers().firstValue(name).orElse(null),
          response.body());
    }

    @Override
    public Stream subscribe(String path, String... headers) throws Exception {
      SseStream stream = SseStream.open(client, URI.create(base + path), headers);
      assertThat(stream.response().version()).isEqualTo(version);
      return new Stream() {
        @Override
        public int status() {
          return stream.response().statusCode();
        }

        @Override
        public String header(String name) {
          return stream.response().headers().firstValue(name).orElse(null);
        }

        @Override
        public Event next() throws Exception {
          return stream.next();
        }

        @Override
        public void close() throws Exception {
          stream.close();
        }
      };
    }

    @Override
    public AutoCloseable stalled(String path) throws Exception {
      if (transport == Transport.H2_TLS) {
        H2Client h2 = H2Client.tls(f.hub.address().getPort(), cert.root());
        H2Client.Exchange exchange = h2.get(path).stallAfterHead();
        assertThat(exchange.status()).isEqualTo(200);
        return h2;
      }
      Socket socket = new Socket();
      socket.setReceiveBufferSize(4096);
      socket.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      socket
          .getOutputStream()
          .write(
              ("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      return socket;
    }

    @Override
    public void close() {
      // The JDK client's connections close with it (Java 21) or when collected.
    }
  }

  /**
   * The Netty HTTP/2 client, cleartext by prior knowledge: every request a stream of one
   * connection.
   */
  static final class NettyClient implements Client {
    private final H2Client client;

    NettyClient(H2Client client) {
      this.client = client;
    }

    @Override
    public Answer send(String method, String path, String body, String... headers)
        throws Exception {
      H2Client.Exchange exchange = client.send(method, path, body, lower(headers));
      String text = exchange.body();
      return new Answer(exchange.status(), name -> headerOf(exchange, name), text);
    }

    private static String headerOf(H2Client.Exchange exchange, String name) {
      try {
        return exchange.wireHeader(name);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    /** HTTP/2 header names are lower case (RFC 9113, section 8.2.1). */
    private static String[] lower(String[] headers) {
      String[] lowered = headers.clone();
      for (int i = 0; i < lowered.length; i += 2) {
        lowered[i] = lowered[i].toLowerCase(Locale.ROOT);
      }
      return lowered;
    }

    @Override
    public Stream subscribe(String path, String... headers) throws Exception {
      H2Client.Exchange exchange = client.get(path, lower(headers));
      exchange.head();
      return new Stream() {
        @Override
        public int status() {
          try {
            return exchange.status();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }

        @Override
        public String header(String name) {
          return headerOf(exchange, name);
        }

        @Override
        public Event next() throws Exception {
          Event event = exchange.next(Duration.ofSeconds(10));
          assertThat(event).as("an event within 10 s").isNotNull();
          return event;
        }

        @Override
        public void close() {
          exchange.cancel();
        }
      };
    }

    @Override
    public AutoCloseable stalled(String path) throws Exception {
      H2Client.Exchange exchange = client.get(path).stallAfterHead();
      assertThat(exchange.status()).isEqualTo(200);
      return exchange::cancel;
    }

    @Override
    public void close() {
      client.close();
    }
  }

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
      assertThat(wrong.headers().get("allow")).isEqualTo("GET, POST");
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

  static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception | Error e) {
      if (!(e instanceof IOException)) {
        throw new IllegalStateException(e);
      }
    }
  }
}
