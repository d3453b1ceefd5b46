package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every refusal of the HTTP API: its status, its JSON body ({@code error} code and a message), and
 * that a subscriber saw nothing of the refused request (the first event it gets is a marker
 * published afterwards).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubRefusalTest {
  private static final int MAX_EVENT_BYTES = 4096;
  private static HubFixture f;

  @BeforeAll
  static void start() {
    f = new HubFixture(Hub.builder().store("memory").maxEventBytes(MAX_EVENT_BYTES));
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  /** Subscribes to t and members/m, runs the bad request, then checks the marker comes first. */
  private static void refusedWithNothingPublished(Request request, int status, String code)
      throws Exception {
    try (SseStream stream = f.subscribe("?topic=t", "Member-ID", "m")) {
      Answer answer = request.send();
      assertThat(answer.status).as(answer.body).isEqualTo(status);
      JsonNode body = HubFixture.json(answer.body);
      assertThat(body.get("error").asText()).isEqualTo(code);
      assertThat(body.get("message").asText()).isNotBlank();
      assertThat(body.size()).isEqualTo(2);
      String marker = f.publish("{\"topic\": \"t\", \"data\": \"marker\"}");
      assertThat(stream.next().id()).hasValue(marker);
    }
  }

  private interface Request {
    Answer send() throws Exception;
  }

  private record Answer(int status, String body, HttpResponse<String> response) {}

  private static Request post(String json, String... headers) {
    return () -> {
      HttpResponse<String> r = f.post(json, headers);
      return new Answer(r.statusCode(), r.body(), r);
    };
  }

  private static Request raw(byte[] request) {
    return () -> rawExchange(request);
  }

  /** Sends bytes on a fresh socket and reads the response until the hub closes the connection. */
  private static Answer rawExchange(byte[] request) throws Exception {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(request);
      socket.getOutputStream().flush();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
      }
      String text = out.toString(StandardCharsets.UTF_8);
      int status = Integer.parseInt(text.substring(9, 12));
      String body = text.substring(text.indexOf("\r\n\r\n") + 4);
      return new Answer(status, body, null);
    }
  }

  @Test
  void malformedJsonIs400InvalidJson() throws Exception {
    refusedWithNothingPublished(post("{\"topic\": \"t\", \"data\": "), 400, "invalid_json");
  }

  @Test
  void bodyThatIsNotUtf8Is400InvalidJson() throws Exception {
    byte[] body =
        "{\"topic\":\"t\",\"data\":\"\u00ff\u00ff\"}".getBytes(StandardCharsets.ISO_8859_1);
    byte[] head =
        ("POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + body.length
                + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    byte[] request = new byte[head.length + body.length];
    System.arraycopy(head, 0, request, 0, head.length);
    System.arraycopy(body, 0, request, head.length, body.length);
    refusedWithNothingPublished(raw(request), 400, "invalid_json");
  }

  @Test
  void bodyThatIsNotAnObjectIs400InvalidJson() throws Exception {
    // A JSON array is a batch (HubBatchPublishTest); any other non-object is refused.
    refusedWithNothingPublished(post("\"t\""), 400, "invalid_json");
  }

  @Test
  void wrongContentTypeIs415() throws Exception {
    refusedWithNothingPublished(
        () -> {
          HttpResponse<String> r =
              f.client.send(
                  HttpRequest.newBuilder(f.uri("/events"))
                      .header("Content-Type", "text/plain")
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              "{\"topic\": \"t\", \"data\": \"x\"}"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          return new Answer(r.statusCode(), r.body(), r);
        },
        415,
        "unsupported_media_type");
  }

  @Test
  void bodyOverTheLimitByContentLengthIs413() throws Exception {
    String big = "{\"topic\": \"t\", \"data\": \"" + "x".repeat(MAX_EVENT_BYTES) + "\"}";
    refusedWithNothingPublished(post(big), 413, "body_too_large");
  }

  @Test
  void chunkedBodyGrowingOverTheLimitIs413() throws Exception {
    byte[] big =
        ("{\"topic\": \"t\", \"data\": \"" + "x".repeat(MAX_EVENT_BYTES) + "\"}")
            .getBytes(StandardCharsets.UTF_8);
    refusedWithNothingPublished(
        () -> {
          // A publisher with no declared length: the client sends it chunked.
          HttpRequest.BodyPublisher chunked =
              HttpRequest.BodyPublishers.fromPublisher(
                  (Flow.Subscriber<? super ByteBuffer> s) ->
                      HttpRequest.BodyPublishers.ofByteArray(big).subscribe(s));
          HttpResponse<String> r =
              f.client.send(
                  HttpRequest.newBuilder(f.uri("/events"))
                      .header("Content-Type", "application/json")
                      .POST(chunked)
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(r.request().bodyPublisher().orElseThrow().contentLength()).isNegative();
          return new Answer(r.statusCode(), r.body(), r);
        },
        413,
        "body_too_large");
  }

  @Test
  void noTopicAndNoMemberIs400TopicMissing() throws Exception {
    refusedWithNothingPublished(post("{\"data\": \"x\"}"), 400, "topic_missing");
  }

  @Test
  void topicWithControlCharacterIs400TopicInvalid() throws Exception {
    refusedWithNothingPublished(
        post("{\"topic\": \"t\\u0007\", \"data\": \"x\"}"), 400, "topic_invalid");
  }

  @Test
  void topicOver256BytesIs400TopicInvalid() throws Exception {
    refusedWithNothingPublished(
        post("{\"topic\": \"" + "\u00e9".repeat(129) + "\", \"data\": \"x\"}"),
        400,
        "topic_invalid");
  }

  @Test
  void moreThan32TopicsIs400TooManyTopics() throws Exception {
    String topics =
        IntStream.rangeClosed(1, 33)
            .mapToObj(i -> "\"t" + i + "\"")
            .collect(Collectors.joining(","));
    refusedWithNothingPublished(
        post("{\"topics\": [" + topics + "], \"data\": \"x\"}"), 400, "too_many_topics");
  }

  @Test
  void thirtyTwoDistinctTopicsWithDuplicatesAreAccepted() throws Exception {
    String topics =
        IntStream.rangeClosed(1, 40)
            .mapToObj(i -> "\"t" + (i % 32) + "\"")
            .collect(Collectors.joining(","));
    assertThat(f.post("{\"topics\": [" + topics + "], \"data\": \"x\"}").statusCode())
        .isEqualTo(201);
  }

  @Test
  void memberFormWithoutTypeIs400EventTypeMissing() throws Exception {
    refusedWithNothingPublished(
        post("{\"event\": {\"body\": {}}}", "Member-ID", "m"), 400, "event_type_missing");
  }

  @Test
  void memberFormWithoutBodyIs400EventBodyMissing() throws Exception {
    refusedWithNothingPublished(
        post("{\"event\": {\"type\": \"T\"}}", "Member-ID", "m"), 400, "event_body_missing");
  }

  @Test
  void topicFormWithoutDataIs400DataMissing() throws Exception {
    refusedWithNothingPublished(post("{\"topic\": \"t\"}"), 400, "data_missing");
  }

  @Test
  void typeWithControlCharacterOrTooLongIs400TypeInvalid() throws Exception {
    refusedWithNothingPublished(
        post("{\"topic\": \"t\", \"type\": \"a\\nb\", \"data\": \"x\"}"), 400, "type_invalid");
    refusedWithNothingPublished(
        post("{\"topic\": \"t\", \"type\": \"" + "y".repeat(129) + "\", \"data\": \"x\"}"),
        400,
        "type_invalid");
  }

  @Test
  void topicAndTopicsTogetherAre400AmbiguousTarget() throws Exception {
    refusedWithNothingPublished(
        post("{\"topic\": \"t\", \"topics\": [\"t\"], \"data\": \"x\"}"), 400, "ambiguous_target");
  }

  @Test
  void memberIdWithTopicFormBodyIs400AmbiguousTarget() throws Exception {
    refusedWithNothingPublished(
        post("{\"topic\": \"t\", \"data\": \"x\"}", "Member-ID", "m"), 400, "ambiguous_target");
  }

  @Test
  void unknownPathIs404() throws Exception {
    refusedWithNothingPublished(
        () -> {
          HttpResponse<String> r = f.get("/nope");
          return new Answer(r.statusCode(), r.body(), r);
        },
        404,
        "not_found");
  }

  @Test
  void wrongMethodIs405WithAllow() throws Exception {
    AtomicReference<HttpResponse<String>> seen = new AtomicReference<>();
    refusedWithNothingPublished(
        () -> {
          HttpResponse<String> r =
              f.client.send(
                  HttpRequest.newBuilder(f.uri("/events"))
                      .PUT(HttpRequest.BodyPublishers.ofString("{}"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          seen.set(r);
          return new Answer(r.statusCode(), r.body(), r);
        },
        405,
        "method_not_allowed");
    assertThat(seen.get().headers().firstValue("allow")).hasValue("GET, POST");
    HttpResponse<String> delete =
        f.client.send(
            HttpRequest.newBuilder(f.uri("/healthz")).DELETE().build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(delete.statusCode()).isEqualTo(405);
    assertThat(delete.headers().firstValue("allow")).hasValue("GET");
  }

  @Test
  void oversizedHeadersAre431() throws Exception {
    String request =
        "GET /events?topic=t HTTP/1.1\r\nHost: x\r\nX-Big: " + "h".repeat(17 * 1024) + "\r\n\r\n";
    refusedWithNothingPublished(
        raw(request.getBytes(StandardCharsets.US_ASCII)), 431, "headers_too_large");
  }

  @Test
  void oversizedRequestLineIs414() throws Exception {
    String request = "GET /events?topic=" + "u".repeat(9 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    refusedWithNothingPublished(
        raw(request.getBytes(StandardCharsets.US_ASCII)), 414, "uri_too_long");
  }

  @Test
  void subscribeWithoutTopicIs400TopicMissing() throws Exception {
    refusedWithNothingPublished(
        () -> {
          HttpResponse<String> r = f.get("/events");
          return new Answer(r.statusCode(), r.body(), r);
        },
        400,
        "topic_missing");
  }

  @Test
  void subscribeWithInvalidOrTooManyTopicsIs400() throws Exception {
    HttpResponse<String> control = f.get("/events?topic=a%01b");
    assertThat(control.statusCode()).isEqualTo(400);
    assertThat(HubFixture.json(control.body()).get("error").asText()).isEqualTo("topic_invalid");
    String many =
        IntStream.rangeClosed(1, 33).mapToObj(i -> "topic=t" + i).collect(Collectors.joining("&"));
    HttpResponse<String> tooMany = f.get("/events?" + many);
    assertThat(tooMany.statusCode()).isEqualTo(400);
    assertThat(HubFixture.json(tooMany.body()).get("error").asText()).isEqualTo("too_many_topics");
    HttpResponse<String> longTopic = f.get("/events?topic=" + "z".repeat(257));
    assertThat(HubFixture.json(longTopic.body()).get("error").asText()).isEqualTo("topic_invalid");
  }

  @Test
  void refusalsCarryJsonContentType() throws Exception {
    HttpResponse<String> r = f.get("/nope");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json; charset=utf-8");
  }
}
