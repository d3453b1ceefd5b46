package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.hub.RawConnection.Response;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The HTTP edge over raw sockets, by RFC 9112: ambiguous framing is refused and closes the
 * connection, nothing sent after a response that closes the connection is executed (no request
 * smuggling), and the head's rules (Host, Expect, Content-Encoding); an HTTP/1.0 stream is not
 * chunked. Each refusal is checked for its status, its JSON body, the close, and that a subscriber
 * saw nothing of the smuggled publish (the next event it gets is a marker published afterwards).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubHttpEdgeTest {
  /** The publish a client hides behind another request: it must never be executed. */
  private static final String SMUGGLED = publish("{\"topic\":\"c\",\"data\":\"S\"}", "");

  private static HubFixture f;

  @BeforeAll
  static void start() {
    f = HubFixture.memory();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  /** A complete publish request with {@code body} and the given extra header lines. */
  private static String publish(String body, String headers) {
    return "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + headers
        + "Content-Length: "
        + body.getBytes(StandardCharsets.UTF_8).length
        + "\r\n\r\n"
        + body;
  }

  /**
   * Sends {@code bytes} on a fresh connection while subscribed to topic c; returns the responses
   * until the hub closed the connection, after checking that c received exactly {@code published}
   * before a marker published afterwards.
   */
  private static List<Response> exchange(String bytes, String... published) throws Exception {
    try (SseStream witness = f.subscribe("?topic=c");
        RawConnection connection = RawConnection.open(f.hub)) {
      List<Response> responses = connection.send(bytes).responsesUntilEnd();
      String marker = f.publish("{\"topic\": \"c\", \"data\": \"marker\"}");
      List<String> seen = new ArrayList<>();
      for (Event event = witness.next(); !event.id().equals(java.util.Optional.of(marker)); ) {
        seen.add(event.data());
        event = witness.next();
      }
      assertThat(seen).as("published on c before the marker").containsExactly(published);
      return responses;
    }
  }

  /** One response only, the refusal: status, JSON error body, and the connection closes. */
  private static void refusedAlone(List<Response> responses, int status, String code)
      throws Exception {
    assertThat(responses).hasSize(1);
    Response refusal = responses.get(0);
    assertThat(refusal.status()).as(refusal.body()).isEqualTo(status);
    assertThat(refusal.headers()).containsEntry("content-type", "application/json; charset=utf-8");
    assertThat(refusal.headers()).containsEntry("connection", "close");
    assertThat(refusal.error()).isEqualTo(code);
    assertThat(HubFixture.json(refusal.body()).get("message").asText()).isNotBlank();
  }

  @Test
  void refusesContentLengthWithTransferEncodingAndExecutesNothingAfterIt() throws Exception {
    String ambiguous =
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    refusedAlone(exchange(ambiguous + SMUGGLED), 400, "framing_invalid");
  }

  static Stream<Arguments> requestsThatCloseTheConnection() {
    return Stream.of(
        Arguments.of("invalid JSON", publish("{\"topic\": ", ""), 400, "invalid_json", null),
        Arguments.of(
            "wrong media type",
            publish("{\"topic\":\"c\",\"data\":\"x\"}", "").replace("application/json", "text/x"),
            415,
            "unsupported_media_type",
            null),
        Arguments.of(
            "unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found", null),
        Arguments.of(
            "malformed header",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nBad\u0001Header: v\r\n\r\n",
            400,
            "bad_request",
            null),
        Arguments.of(
            "bad header value",
            "GET /events?topic=c HTTP/1.1\r\nHost: x\r\nDevice-Id: not valid\r\n\r\n",
            400,
            "device_id_invalid",
            null),
        Arguments.of(
            "client's Connection: close",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            200,
            null,
            null),
        Arguments.of(
            "client's Connection: close on a publish answered after its store",
            publish("{\"topic\":\"c\",\"data\":\"first\"}", "Connection: close\r\n"),
            201,
            null,
            "first"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requestsThatCloseTheConnection")
  void executesNoPipelinedRequestAfterAResponseThatClosesTheConnection(
      String name, String request, int status, String code, String published) throws Exception {
    List<Response> responses =
        published == null ? exchange(request + SMUGGLED) : exchange(request + SMUGGLED, published);
    if (code != null) {
      refusedAlone(responses, status, code);
    } else {
      assertThat(responses).hasSize(1);
      assertThat(responses.get(0).status()).isEqualTo(status);
      assertThat(responses.get(0).headers()).containsEntry("connection", "close");
    }
  }

  static Stream<Arguments> transferCodingsOtherThanChunked() {
    return Stream.of(
        Arguments.of("POST", "HTTP/1.1", "Transfer-Encoding: xchunked\r\n", 400, "framing_invalid"),
        Arguments.of(
            "POST", "HTTP/1.1", "Transfer-Encoding: chunked, identity\r\n", 400, "framing_invalid"),
        Arguments.of(
            "POST", "HTTP/1.1", "Transfer-Encoding: chunked, chunked\r\n", 400, "framing_invalid"),
        Arguments.of(
            "POST",
            "HTTP/1.1",
            "Transfer-Encoding: gzip, chunked\r\n",
            501,
            "unsupported_transfer_encoding"),
        Arguments.of(
            "POST",
            "HTTP/1.1",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            501,
            "unsupported_transfer_encoding"),
        Arguments.of("POST", "HTTP/1.0", "Transfer-Encoding: chunked\r\n", 400, "framing_invalid"),
        Arguments.of("GET", "HTTP/1.1", "Transfer-Encoding: xchunked\r\n", 400, "framing_invalid"));
  }

  /**
   * The body of each of these requests is a whole publish: a server that read it by another framing
   * (by no length, or by its Content-Length) would execute it as the next request.
   */
  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("transferCodingsOtherThanChunked")
  void refusesTransferCodingsOtherThanOneChunkedWithoutReadingTheBody(
      String method, String version, String transferEncoding, int status, String code)
      throws Exception {
    String head =
        method
            + " /events?topic=c "
            + version
            + "\r\nHost: x\r\nContent-Type: application/json\r\n"
            + transferEncoding
            + "\r\n";
    refusedAlone(exchange(head + SMUGGLED), status, code);
  }

  @ParameterizedTest
  @MethodSource("contentLengths")
  void refusesSeveralOrConflictingContentLengths(String lengths) throws Exception {
    String request =
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + lengths
            + "\r\n{\"topic\":\"c\",\"data\":\"L\"}";
    refusedAlone(exchange(request + SMUGGLED), 400, "bad_request");
  }

  static Stream<String> contentLengths() {
    return Stream.of(
        "Content-Length: 25\r\nContent-Length: 25\r\n",
        "Content-Length: 4\r\nContent-Length: 25\r\n",
        "Content-Length: 4, 25\r\n");
  }

  @Test
  void refusesAnHttp11RequestWithoutOrWithSeveralHosts() throws Exception {
    String event = "{\"topic\":\"c\",\"data\":\"H\"}";
    refusedAlone(exchange(publish(event, "").replace("Host: x\r\n", "")), 400, "host_invalid");
    refusedAlone(exchange(publish(event, "Host: y\r\n")), 400, "host_invalid");
  }

  @Test
  void refusesExpectationsOtherThan100ContinueAndMeets100Continue() throws Exception {
    String event = "{\"topic\":\"c\",\"data\":\"E\"}";
    refusedAlone(exchange(publish(event, "Expect: 200-ok\r\n")), 417, "expectation_failed");

    String head = publish(event, "Expect: 100-continue\r\n");
    String headOnly = head.substring(0, head.length() - event.length());
    try (SseStream witness = f.subscribe("?topic=c");
        RawConnection connection = RawConnection.open(f.hub)) {
      connection.send(headOnly).await("HTTP/1.1 100 Continue\r\n\r\n", Duration.ofSeconds(10));
      connection.send(event).await("HTTP/1.1 201 Created", Duration.ofSeconds(10));
      assertThat(witness.next().data()).isEqualTo("E");
    }
  }

  @Test
  void refusesAContentEncodingOtherThanIdentity() throws Exception {
    String event = "{\"topic\":\"c\",\"data\":\"Z\"}";
    refusedAlone(
        exchange(publish(event, "Content-Encoding: gzip\r\n")),
        415,
        "unsupported_content_encoding");
    String identity = publish(event, "Content-Encoding: identity\r\nConnection: close\r\n");
    assertThat(exchange(identity, "Z")).extracting(Response::status).containsExactly(201);
  }

  @Test
  void streamsToAnHttp10ClientUnchunkedAndEndsTheBodyByClosing() throws Exception {
    try (HubFixture own = HubFixture.memory();
        RawConnection connection = RawConnection.open(own.hub)) {
      connection.send("GET /events?topic=old HTTP/1.0\r\n\r\n");
      String opened = connection.await("\r\n\r\n:ok\n", Duration.ofSeconds(10));
      String head = opened.substring(0, opened.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
      assertThat(head).startsWith("http/1.1 200").doesNotContain("transfer-encoding");
      assertThat(head).contains("connection: close");
      String id = own.publish("{\"topic\": \"old\", \"data\": \"plain\"}");
      String frame = "id: " + id + "\ndata: plain\n\n";
      connection.await(frame, Duration.ofSeconds(10));
      own.close();
      assertThat(connection.awaitEnd(Duration.ofSeconds(10))).isTrue();
      String body = connection.received().substring(opened.indexOf("\r\n\r\n") + 4);
      // The drain asks the stream back (a jittered retry:) before it ends.
      assertThat(body)
          .matches(
              "(?s)"
                  + java.util.regex.Pattern.quote(":ok\n" + frame)
                  + ": shed draining\nretry: \\d+\n\n");
    }
  }
}
