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
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>();
    all.add("listen");
    all.addAll(List.of(args));
    int exit =
        Herald.commandLine(Map.of())
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
  void nonPositiveMaxEventsAndRelativeUrlAreUsageErrors() {
    Run zero = listen("--max-events", "0", url());
    Run relative = listen("/events");

    assertThat(zero.exit()).isEqualTo(2);
    assertThat(zero.err()).contains("--max-events");
    assertThat(relative.exit()).isEqualTo(2);
    assertThat(relative.err()).contains("not an absolute http or https URL");
    assertThat(zero.out() + relative.out()).isEmpty();
  }
}
