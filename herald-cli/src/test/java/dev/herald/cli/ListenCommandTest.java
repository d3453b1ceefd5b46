package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.client.testing.RecordedRequest;
import dev.herald.client.testing.ScriptedResponse;
import dev.herald.client.testing.ScriptedServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code herald listen} in process, against a scripted SSE server. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ListenCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ScriptedServer server;

  @BeforeEach
  void startServer() {
    server = ScriptedServer.start();
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  record Run(int exit, String out, String err) {
    /** Stdout's lines; every line, the last included, must end with a line feed. */
    List<String> lines() {
      assertThat(out)
          .satisfiesAnyOf(o -> assertThat(o).isEmpty(), o -> assertThat(o).endsWith("\n"));
      return out.lines().toList();
    }
  }

  static Run listen(String... args) {
    return listen(Map.of(), args);
  }

  static Run listen(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>();
    all.add("listen");
    all.addAll(List.of(args));
    int exit =
        Herald.commandLine(env)
            .setOut(new PrintWriter(out, true))
            .setErr(new PrintWriter(err, true))
            .execute(all.toArray(String[]::new));
    return new Run(exit, out.toString(), err.toString());
  }

  private String url() {
    return server.uri("/events?topic=t").toString();
  }

  @Test
  void printsEachEventAsOneJsonLineWithTypeDataAndStickyId() throws Exception {
    String unicode = "caf\u00e9 \u00fc\u4e16 \ud83d\ude00 \"quoted\" back\\slash\ttab";
    server.enqueue(
        ScriptedResponse.eventStream()
            .send(": opening comment\n\n")
            .send("data: zero\n\n")
            .send("retry: 5000\nid: 1\ndata: one\n\n")
            .send("event: price\ndata: two\ndata: lines\n\n")
            .send("data: " + unicode + "\n\n")
            .stall());

    Run run = listen("--max-events", "4", url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines())
        .containsExactly(
            "{\"type\":\"message\",\"data\":\"zero\",\"id\":\"\"}",
            "{\"type\":\"message\",\"data\":\"one\",\"id\":\"1\"}",
            "{\"type\":\"price\",\"data\":\"two\\nlines\",\"id\":\"1\"}",
            "{\"type\":\"message\",\"data\":\"caf\\u00E9 \\u00FC\\u4E16 \\uD83D\\uDE00"
                + " \\\"quoted\\\" back\\\\slash\\ttab\",\"id\":\"1\"}");
    JsonNode last = JSON.readTree(run.lines().get(3));
    assertThat(last.get("data").asText()).isEqualTo(unicode);
    assertThat(run.out()).isNotEmpty().doesNotContain("opening comment");
  }

  @Test
  void exitsZeroAfterMaxEventsAndClosesTheConnection() throws Exception {
    server.enqueue(
        ScriptedResponse.eventStream().send("id: 1\ndata: a\n\nid: 2\ndata: b\n\n").stall());

    Run run = listen("--max-events", "1", url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines()).containsExactly("{\"type\":\"message\",\"data\":\"a\",\"id\":\"1\"}");
    assertThat(server.awaitNoOpenConnections(java.time.Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void exitsZeroOnNoContent() {
    server.enqueue(ScriptedResponse.status(204));

    Run run = listen(url());

    assertThat(run.exit()).isZero();
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).contains("204");
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(ints = {401, 403, 404})
  void refusalExitsNonZeroWithTheServersReasonOnStderr(int status) {
    server.enqueue(
        ScriptedResponse.status(status)
            .header("Content-Type", "application/json")
            .body("{\"error\": \"topic_not_allowed\", \"message\": \"no access to t\"}"));

    Run run = listen(url());

    assertThat(run.exit()).isEqualTo(ListenCommand.REFUSED);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).contains("herald listen:", "answered " + status, "topic_not_allowed");
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @Test
  void responseThatIsNotAnEventStreamExitsNonZero() {
    server.enqueue(
        ScriptedResponse.status(200)
            .header("Content-Type", "application/json")
            .body("{\"data\": \"not a stream\"}"));

    Run run = listen(url());

    assertThat(run.exit()).isEqualTo(ListenCommand.REFUSED);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).contains("application/json", "text/event-stream");
  }

  @Test
  void serverErrorIsRetriedThenEventsArePrinted() {
    server.enqueue(ScriptedResponse.status(503).header("Retry-After", "0"));
    server.enqueue(ScriptedResponse.eventStream().send("id: 7\ndata: back\n\n").stall());

    Run run = listen("--max-events", "1", url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines())
        .containsExactly("{\"type\":\"message\",\"data\":\"back\",\"id\":\"7\"}");
    assertThat(run.err()).contains("503", "reconnecting");
    assertThat(server.requestCount()).isEqualTo(2);
  }

  @Test
  void sendsHeadersAndLastEventIdAndResumesFromTheLastIdSeen() {
    server.enqueue(ScriptedResponse.eventStream().send("retry: 0\nid: 42\ndata: a\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().send("data: b\n\n").stall());

    Run run =
        listen(
            "--header",
            "Authorization: Bearer abc.def",
            "--header",
            "X-Trace:t1",
            "--last-event-id",
            "41",
            "--max-events",
            "2",
            url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines())
        .containsExactly(
            "{\"type\":\"message\",\"data\":\"a\",\"id\":\"42\"}",
            "{\"type\":\"message\",\"data\":\"b\",\"id\":\"42\"}");
    RecordedRequest first = server.takeRequest();
    assertThat(first.target()).isEqualTo("/events?topic=t");
    assertThat(first.header("Authorization")).hasValue("Bearer abc.def");
    assertThat(first.header("X-Trace")).hasValue("t1");
    assertThat(first.header("Last-Event-ID")).hasValue("41");
    assertThat(first.header("Accept")).hasValue("text/event-stream");
    RecordedRequest second = server.takeRequest();
    assertThat(second.header("Authorization")).hasValue("Bearer abc.def");
    assertThat(second.header("Last-Event-ID")).hasValue("42");
  }

  @ParameterizedTest
  @ValueSource(strings = {"no colon", ": value only", "Last-Event-ID: 5"})
  void malformedHeaderIsAUsageError(String header) {
    Run run = listen("--header", header, url());

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).contains("--");
    assertThat(server.requestCount()).isZero();
  }

  @Test
  void nonPositiveMaxEventsAndNonHttpUrlAreUsageErrors() {
    Run zero = listen("--max-events", "0", url());
    Run ftp = listen("ftp://127.0.0.1/events");

    assertThat(zero.exit()).isEqualTo(2);
    assertThat(zero.err()).contains("--max-events");
    assertThat(ftp.exit()).isEqualTo(2);
    assertThat(ftp.err()).contains("'ftp://127.0.0.1/events' is not an http or https URL");
    assertThat(zero.out() + ftp.out()).isEmpty();
    assertThat(server.requestCount()).isZero();
  }

  @ParameterizedTest
  @ValueSource(ints = {408, 429})
  void timeoutAndTooManyRequestsExitNonZeroWithoutReconnectingByDefault(int status) {
    server.enqueue(
        ScriptedResponse.status(status)
            .header("Retry-After", "0")
            .header("Content-Type", "application/json")
            .body("{\"error\": \"rate_limited\", \"message\": \"slow down\"}"));
    // Were the refusal retried, this would end the run with 0.
    server.enqueue(ScriptedResponse.status(204));

    Run run = listen(url());

    assertThat(run.exit()).isEqualTo(ListenCommand.REFUSED);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains("answered " + status, "rate_limited")
        .doesNotContain("reconnect");
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(ints = {408, 429})
  void retryThrottledReconnectsAfterTheRetryAfterTheServerAskedFor(int status) {
    server.enqueue(ScriptedResponse.status(status).header("Retry-After", "1"));
    server.enqueue(ScriptedResponse.eventStream().send("id: 3\ndata: later\n\n").stall());

    long start = System.nanoTime();
    Run run = listen("--retry-throttled", "--max-events", "1", url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines())
        .containsExactly("{\"type\":\"message\",\"data\":\"later\",\"id\":\"3\"}");
    assertThat(run.err()).contains("answered " + status, "reconnecting in 1000 ms");
    assertThat(java.time.Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThan(java.time.Duration.ofMillis(900));
    assertThat(server.requestCount()).isEqualTo(2);
  }

  @Test
  void retryThrottledStillExitsNonZeroOnOtherClientErrors() {
    server.enqueue(ScriptedResponse.status(403).body("{\"error\": \"topic_not_allowed\"}"));
    server.enqueue(ScriptedResponse.status(204));

    Run run = listen("--retry-throttled", url());

    assertThat(run.exit()).isEqualTo(ListenCommand.REFUSED);
    assertThat(run.err()).contains("answered 403");
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @Test
  void printsOneStderrLineWhenEachStreamOpensWithWhereItResumes() {
    server.enqueue(ScriptedResponse.eventStream().send("retry: 0\nid: 42\ndata: a\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().send("data: b\n\n").stall());

    Run run = listen("--last-event-id", "41", "--max-events", "2", url());

    assertThat(run.exit()).isZero();
    assertThat(run.lines()).hasSize(2).allSatisfy(line -> assertThat(line).startsWith("{"));
    assertThat(run.err().lines().filter(line -> line.contains("connected")))
        .containsExactly(
            "herald listen: connected to " + url() + " (resuming after id 41)",
            "herald listen: connected to " + url() + " (resuming after id 42)");
  }

  @Test
  void theConnectedLineSaysWhenTheStreamStartsLiveOrFromTheEarliestEvent() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    server.enqueue(ScriptedResponse.eventStream().send("data: b\n\n").stall());

    Run live = listen("--max-events", "1", url());
    Run earliest = listen("--last-event-id", "earliest", "--max-events", "1", url());

    assertThat(live.err()).contains("herald listen: connected to " + url() + "\n");
    assertThat(earliest.err())
        .contains("herald listen: connected to " + url() + " (from the earliest retained event)");
  }

  @Test
  void aPathIsResolvedAgainstHeraldUrl() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    String base = "http://127.0.0.1:" + server.port();

    Run run = listen(Map.of("HERALD_URL", base), "--max-events", "1", "/events?topic=news");

    assertThat(run.exit()).isZero();
    assertThat(run.lines()).containsExactly("{\"type\":\"message\",\"data\":\"a\",\"id\":\"\"}");
    assertThat(server.takeRequest().target()).isEqualTo("/events?topic=news");
  }

  @Test
  void topicsBuildTheEventsUrlUnderTheUrlFlagWhichBeatsHeraldUrl() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    String base = "http://127.0.0.1:" + server.port() + "/";

    Run run =
        listen(
            Map.of("HERALD_URL", "http://127.0.0.1:1"),
            "--url",
            base,
            "--topic",
            "news",
            "--topic",
            "members/ana b",
            "--max-events",
            "1");

    assertThat(run.exit()).isZero();
    assertThat(server.takeRequest().target())
        .isEqualTo("/events?topic=news&topic=members%2Fana%20b");
  }

  @Test
  void aUrlAndTopicsTogetherOrNeitherAreUsageErrors() {
    Run both = listen("--topic", "news", url());
    Run neither = listen();
    Run badBase = listen(Map.of("HERALD_URL", "127.0.0.1:8080"), "--topic", "news");

    assertThat(both.exit()).isEqualTo(2);
    assertThat(both.err()).contains("either a URL or --topic");
    assertThat(neither.exit()).isEqualTo(2);
    assertThat(neither.err()).contains("a URL, a path such as '/events?topic=news', or --topic");
    assertThat(badBase.exit()).isEqualTo(2);
    assertThat(badBase.err()).contains("--url (or HERALD_URL) '127.0.0.1:8080'");
    assertThat(server.requestCount()).isZero();
  }
}
