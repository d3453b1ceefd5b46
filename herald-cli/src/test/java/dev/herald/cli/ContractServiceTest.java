package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.client.testing.RecordedRequest;
import dev.herald.client.testing.ScriptedResponse;
import dev.herald.client.testing.ScriptedServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract-test service in process, driven over HTTP the way the harness drives it, with a
 * scripted SSE server as the stream and a local receiver for the callbacks.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ContractServiceTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final StringWriter log = new StringWriter();
  private ContractService service;
  private ScriptedServer stream;
  private CallbackReceiver callbacks;

  @BeforeEach
  void start() {
    service = ContractService.start(0, new PrintWriter(log, true));
    stream = ScriptedServer.start();
    callbacks = new CallbackReceiver();
  }

  @AfterEach
  void stop() {
    service.close();
    stream.close();
    callbacks.close();
  }

  // ---- HTTP helpers ----

  private URI service(String path) {
    return URI.create("http://127.0.0.1:" + service.port() + path);
  }

  private static HttpResponse<String> send(String method, URI uri, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    request.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Creates a stream reading from the scripted server; returns its resource URL. */
  private URI create(String extraFields) throws Exception {
    String body =
        "{\"streamUrl\": \""
            + stream.uri("/stream")
            + "\", \"callbackUrl\": \""
            + callbacks.url()
            + "\", \"tag\": \"test\", \"initialDelayMs\": 0"
            + (extraFields.isEmpty() ? "" : ", " + extraFields)
            + "}";
    HttpResponse<String> response = send("POST", service("/"), body);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
    String location = response.headers().firstValue("Location").orElseThrow();
    assertThat(location).matches("http://127\\.0\\.0\\.1:" + service.port() + "/streams/\\d+");
    return URI.create(location);
  }

  private static JsonNode json(String text) throws IOException {
    return JSON.readTree(text);
  }

  private static JsonNode event(String type, String data, String id) throws IOException {
    return json(
        JSON.createObjectNode()
            .put("kind", "event")
            .set("event", JSON.createObjectNode().put("type", type).put("data", data).put("id", id))
            .toString());
  }

  private void expectCallback(int n, JsonNode body) throws InterruptedException {
    CallbackReceiver.Callback callback = callbacks.take();
    assertThat(callback.path()).isEqualTo("/callbacks/" + n);
    assertThat(callback.body()).isEqualTo(body);
  }

  // ---- Tests ----

  @Test
  void statusListsEveryCapability() throws Exception {
    HttpResponse<String> response = send("GET", service("/"), null);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    List<String> capabilities =
        JSON.convertValue(
            json(response.body()).get("capabilities"),
            JSON.getTypeFactory().constructCollectionType(List.class, String.class));
    assertThat(capabilities)
        .containsExactlyInAnyOrder(
            "comments",
            "headers",
            "last-event-id",
            "post",
            "report",
            "read-timeout",
            "restart",
            "bom",
            "event-type-listeners",
            "server-directed-shutdown-request");
  }

  @Test
  void reportsCommentsEventsAndErrorsAsNumberedCallbacksInOrder() throws Exception {
    stream.enqueue(
        ScriptedResponse.eventStream()
            .send(":hello\n\nid: 1\ndata: one\n\n")
            .send("event: unlistened\ndata: skipped\n\n")
            .send("data: two\ndata: lines\n\n")
            .drop());
    stream.enqueue(ScriptedResponse.eventStream().stall());

    create("");

    expectCallback(1, json("{\"kind\": \"comment\", \"comment\": \"hello\"}"));
    expectCallback(2, event("message", "one", "1"));
    expectCallback(3, event("message", "two\nlines", "1"));
    CallbackReceiver.Callback error = callbacks.take();
    assertThat(error.path()).isEqualTo("/callbacks/4");
    assertThat(error.body().get("kind").asText()).isEqualTo("error");
    assertThat(error.body().get("error").asText()).isNotBlank();
    assertThat(error.body().size()).isEqualTo(2);
    RecordedRequest first = stream.takeRequest();
    assertThat(first.method()).isEqualTo("GET");
    assertThat(first.header("Accept")).hasValue("text/event-stream");
    assertThat(first.header("Last-Event-ID")).isEmpty();
    assertThat(stream.takeRequest().header("Last-Event-ID")).hasValue("1");
  }

  @Test
  void sendsTheNextCallbackOnlyAfterThePreviousWasAnswered() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch allSent = new CountDownLatch(1);
    callbacks.holdFirstUntil(release);
    stream.enqueue(
        ScriptedResponse.eventStream()
            .send("data: 1\n\ndata: 2\n\ndata: 3\n\n")
            .signal(allSent)
            .stall());

    create("");

    assertThat(callbacks.take().path()).isEqualTo("/callbacks/1");
    assertThat(allSent.await(10, TimeUnit.SECONDS)).isTrue();
    // Callback 1 is unanswered: nothing else may arrive however long we look (here 300 ms).
    assertThat(callbacks.poll(Duration.ofMillis(300))).isNull();
    release.countDown();
    expectCallback(2, event("message", "2", ""));
    expectCallback(3, event("message", "3", ""));
    assertThat(callbacks.maxInFlight()).isEqualTo(1);
  }

  @Test
  void passesMethodBodyHeadersAndLastEventIdToTheClient() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().send("data: x\n\n").drop());
    stream.enqueue(ScriptedResponse.eventStream().stall());

    create(
        "\"method\": \"REPORT\", \"body\": \"{\\\"q\\\": 1}\", \"lastEventId\": \"abc\","
            + " \"readTimeoutMs\": 10000,"
            + " \"headers\": {\"content-type\": \"application/json\", \"x-custom\": \"v\"}");

    for (RecordedRequest request : List.of(stream.takeRequest(), stream.takeRequest())) {
      assertThat(request.method()).isEqualTo("REPORT");
      assertThat(request.bodyText()).isEqualTo("{\"q\": 1}");
      assertThat(request.header("Content-Type")).hasValue("application/json");
      assertThat(request.header("x-custom")).hasValue("v");
      assertThat(request.header("Last-Event-ID")).hasValue("abc");
    }
    expectCallback(1, event("message", "x", "abc"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"listen", "Listen"}) // the Go harness sends the untagged field "Listen"
  void listenCommandStartsDeliveringThatType(String field) throws Exception {
    CountDownLatch listening = new CountDownLatch(1);
    stream.enqueue(
        ScriptedResponse.eventStream()
            .send("event: greeting\ndata: early\n\ndata: marker\n\n")
            .await(listening)
            .send("event: greeting\ndata: late\n\n")
            .stall());
    URI resource = create("");
    expectCallback(1, event("message", "marker", ""));

    HttpResponse<String> response =
        send(
            "POST",
            resource,
            "{\"command\": \"listen\", \"" + field + "\": {\"type\": \"greeting\"}}");
    listening.countDown();

    assertThat(response.statusCode()).isBetween(200, 299);
    expectCallback(2, event("greeting", "late", ""));
  }

  @Test
  void restartCommandReconnectsWithTheLastEventId() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().send("id: 5\ndata: first\n\n").stall());
    stream.enqueue(ScriptedResponse.eventStream().send("data: second\n\n").stall());
    URI resource = create("");
    expectCallback(1, event("message", "first", "5"));

    HttpResponse<String> response = send("POST", resource, "{\"command\": \"restart\"}");

    assertThat(response.statusCode()).isBetween(200, 299);
    stream.takeRequest();
    assertThat(stream.takeRequest().header("Last-Event-ID")).hasValue("5");
    // A restart the caller asked for is not an error: the next callback is the event.
    expectCallback(2, event("message", "second", "5"));
  }

  @Test
  void readTimeoutIsReportedAsAnErrorAndTheClientReconnects() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().send("data: hi\n\n").stall());
    stream.enqueue(ScriptedResponse.eventStream().send("data: again\n\n").stall());

    create("\"readTimeoutMs\": 300");

    expectCallback(1, event("message", "hi", ""));
    CallbackReceiver.Callback error = callbacks.take();
    assertThat(error.body().get("kind").asText()).isEqualTo("error");
    expectCallback(3, event("message", "again", ""));
    assertThat(stream.requestCount()).isEqualTo(2);
  }

  @Test
  void unknownCommandIsRefusedWith400() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().stall());
    URI resource = create("");

    assertThat(send("POST", resource, "{\"command\": \"dance\"}").statusCode()).isEqualTo(400);
    assertThat(send("POST", resource, "{\"command\": \"listen\"}").statusCode()).isEqualTo(400);
    assertThat(send("POST", resource, "not json").statusCode()).isEqualTo(400);
  }

  @Test
  void unknownStreamIs404() throws Exception {
    assertThat(send("POST", service("/streams/999"), "{\"command\": \"restart\"}").statusCode())
        .isEqualTo(404);
    assertThat(send("DELETE", service("/streams/999"), null).statusCode()).isEqualTo(404);
    assertThat(send("GET", service("/elsewhere"), null).statusCode()).isEqualTo(404);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"callbackUrl\": \"http://127.0.0.1:1/cb\"}",
        "{\"streamUrl\": \"http://127.0.0.1:1/s\"}",
        "{\"streamUrl\": \"not a url\", \"callbackUrl\": \"http://127.0.0.1:1/cb\"}",
        "{\"streamUrl\": \"http://127.0.0.1:1/s\", \"callbackUrl\": \"http://127.0.0.1:1/cb\","
            + " \"readTimeoutMs\": \"soon\"}",
        "{\"streamUrl\": \"http://127.0.0.1:1/s\", \"callbackUrl\": \"http://127.0.0.1:1/cb\","
            + " \"headers\": {\"bad name\": \"v\"}}",
        "[1, 2]",
        "{"
      })
  void badCreateRequestIs400(String body) throws Exception {
    assertThat(send("POST", service("/"), body).statusCode()).isEqualTo(400);
  }

  @Test
  void deletingAStreamClosesTheClientsConnection() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().send("data: x\n\n").stall());
    URI resource = create("");
    expectCallback(1, event("message", "x", ""));
    assertThat(stream.openConnectionCount()).isEqualTo(1);

    HttpResponse<String> response = send("DELETE", resource, null);

    assertThat(response.statusCode()).isIn(200, 204);
    assertThat(stream.awaitNoOpenConnections(Duration.ofSeconds(10))).isTrue();
    assertThat(stream.connectionCount()).isEqualTo(1);
    assertThat(send("POST", resource, "{\"command\": \"restart\"}").statusCode()).isEqualTo(404);
  }

  @Test
  void deleteRootAnswersThenStopsTheService() throws Exception {
    stream.enqueue(ScriptedResponse.eventStream().stall());
    create("");

    HttpResponse<String> response = send("DELETE", service("/"), null);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(service.awaitStop(Duration.ofSeconds(10))).isTrue();
    assertThat(stream.awaitNoOpenConnections(Duration.ofSeconds(10))).isTrue();
    assertThatThrownBy(() -> send("GET", service("/"), null)).isInstanceOf(ConnectException.class);
  }
}
