package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
    f = new HubFixture(Hub.builder().maxEventBytes(MAX_EVENT_BYTES));
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  /** Subscribes to t and members/m, runs the bad request, then checks the marker comes first. */
  private static JsonNode refusedWithNothingPublished(Request request, int status, String code)
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
      return body;
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

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"topic\": \"t\", \"data\": \"a\\ud800\"} | | data_invalid | \"data\" contains a lone surrogate (U+D800), which UTF-8 cannot carry",
        "{\"topic\": \"t\", \"data\": {\"k\": [\"\\udc00x\"]}} | | data_invalid | \"data\" contains a lone surrogate (U+DC00), which UTF-8 cannot carry",
        "{\"topic\": \"t\", \"data\": {\"\\ud800\": 1}} | | data_invalid | \"data\" contains a lone surrogate (U+D800), which UTF-8 cannot carry",
        "{\"topic\": \"t\", \"data\": \"\\udc00\\ud800\"} | | data_invalid | \"data\" contains a lone surrogate (U+DC00), which UTF-8 cannot carry",
        "{\"topic\": \"t\", \"type\": \"X\\ud800\", \"data\": 1} | | type_invalid | \"type\" contains a lone surrogate (U+D800), which UTF-8 cannot carry",
        "{\"topic\": \"t\\ud800\", \"data\": 1} | | topic_invalid | a topic must be valid Unicode (unpaired surrogate at index 1)",
        "{\"event\": {\"type\": \"T\", \"body\": {\"b\": \"\\ud800\"}}} | m | data_invalid | \"event.body\" contains a lone surrogate (U+D800), which UTF-8 cannot carry",
        "{\"event\": {\"type\": \"T\\udfff\", \"body\": 1}} | m | type_invalid | \"event.type\" contains a lone surrogate (U+DFFF), which UTF-8 cannot carry",
      })
  void loneSurrogateIs400AndNothingIsPublished(
      String json, String member, String code, String message) throws Exception {
    Request request = member == null ? post(json) : post(json, "Member-ID", member);
    JsonNode body = refusedWithNothingPublished(request, 400, code);
    assertThat(body.get("message").asText()).startsWith(message);
  }

  @Test
  void surrogatePairInDataIsPublishedAsItsCharacter() throws Exception {
    try (SseStream stream = f.subscribe("?topic=t")) {
      String id = f.publish("{\"topic\": \"t\", \"data\": \"smile \\ud83d\\ude00\"}");
      Event event = stream.next();
      assertThat(event.id()).hasValue(id);
      assertThat(event.data()).isEqualTo("smile \uD83D\uDE00");
    }
  }

  @Test
  void topicThatIsNotUtf8IsRefusedAndNothingIsSubscribed() throws Exception {
    JsonNode body =
        refusedWithNothingPublished(
            () -> {
              HttpResponse<String> r = f.get("/events?topic=%FF%FEbad");
              return new Answer(r.statusCode(), r.body(), r);
            },
            400,
            "topic_invalid");
    assertThat(body.get("message").asText())
        .isEqualTo(
            "?topic= once percent-decoded is not UTF-8 (byte 0xFF at byte 0 does not start or"
                + " continue a character)");
    // What Netty's decoder made of those bytes: no stream is on it.
    HttpResponse<String> reach = f.post("{\"topic\": \"\\ufffd\\ufffdbad\", \"data\": 1}");
    assertThat(reach.statusCode()).isEqualTo(201);
    assertThat(HubFixture.json(reach.body()).get("reached").asInt()).isZero();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "/events?topic=ok&topic=caf%C3 | topic_invalid | ?topic= once percent-decoded is not UTF-8 (byte 0xC3 at byte 3",
        "/events?topic=%ED%A0%80 | topic_invalid | ?topic= once percent-decoded is not UTF-8 (byte 0xED at byte 0",
        "/events?topic=t&lastEventId=1%FF | bad_request | ?lastEventId= once percent-decoded is not UTF-8 (byte 0xFF at byte 1",
        "/events?topic=t&deviceId=%C3%28 | device_id_invalid | ?deviceId= once percent-decoded is not UTF-8 (byte 0xC3 at byte 0",
        "/presence?member=%80 | topic_invalid | ?member= once percent-decoded is not UTF-8 (byte 0x80 at byte 0",
        "/presence?topic=a%F0%9F | topic_invalid | ?topic= once percent-decoded is not UTF-8 (byte 0xF0 at byte 1",
      })
  void queryParameterThatIsNotUtf8Is400(String target, String code, String message)
      throws Exception {
    JsonNode body =
        refusedWithNothingPublished(
            () -> {
              HttpResponse<String> r = f.get(target);
              return new Answer(r.statusCode(), r.body(), r);
            },
            400,
            code);
    assertThat(body.get("message").asText()).startsWith(message);
  }

  /**
   * A request with a {@code Member-ID} header of these bytes (HttpClient would send {@code ?} for
   * each non-ASCII character): a GET, or a member-form POST that asks to close the connection.
   */
  private static byte[] withMemberId(boolean post, byte... memberId) throws Exception {
    String body = "{\"event\": {\"type\": \"T\", \"body\": 1}}";
    ByteArrayOutputStream request = new ByteArrayOutputStream();
    request.write(
        (post
                ? "POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    + "Content-Type: application/json\r\nContent-Length: "
                    + body.length()
                    + "\r\n"
                : "GET /events HTTP/1.1\r\nHost: x\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    request.write("Member-ID: ".getBytes(StandardCharsets.US_ASCII));
    request.write(memberId);
    request.write("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    request.write(post ? body.getBytes(StandardCharsets.US_ASCII) : new byte[0]);
    return request.toByteArray();
  }

  @Test
  void memberIdHeaderThatIsNotUtf8Is400TopicInvalidOnSubscribeAndPublish() throws Exception {
    String message =
        "the Member-ID header is not UTF-8 (byte 0xFF at byte 1 does not start or continue a"
            + " character)";
    for (boolean post : new boolean[] {false, true}) {
      JsonNode answer =
          refusedWithNothingPublished(
              raw(withMemberId(post, (byte) 'a', (byte) 0xFF)), 400, "topic_invalid");
      assertThat(answer.get("message").asText()).isEqualTo(message);
    }
  }

  @Test
  void utf8MemberIdHeaderNamesTheTopicOfItsCharacters() throws Exception {
    byte[] cafe = "café".getBytes(StandardCharsets.UTF_8);
    try (SseStream byQuery = f.subscribe("?topic=members/caf%C3%A9");
        Socket byHeader = new Socket()) {
      byHeader.connect(new InetSocketAddress("127.0.0.1", f.hub.address().getPort()), 5000);
      byHeader.setSoTimeout(10_000);
      byHeader.getOutputStream().write(withMemberId(false, cafe));
      // The subscription is live once the head is out: read up to its end (bounded).
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      InputStream in = byHeader.getInputStream();
      int b;
      while (!head.toString(StandardCharsets.US_ASCII).contains("\r\n\r\n")
          && head.size() < 4096
          && (b = in.read()) >= 0) {
        head.write(b);
      }
      assertThat(head.toString(StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
      Answer published = rawExchange(withMemberId(true, cafe));
      assertThat(published.status).as(published.body).isEqualTo(201);
      JsonNode answer = HubFixture.json(published.body);
      assertThat(answer.get("reached").asInt()).isEqualTo(2);
      assertThat(byQuery.next().id()).hasValue(answer.get("id").asText());
    }
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
    assertThat(seen.get().headers().firstValue("allow")).hasValue("GET, HEAD, POST");
    HttpResponse<String> delete =
        f.client.send(
            HttpRequest.newBuilder(f.uri("/healthz")).DELETE().build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(delete.statusCode()).isEqualTo(405);
    assertThat(delete.headers().firstValue("allow")).hasValue("GET, HEAD");
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
