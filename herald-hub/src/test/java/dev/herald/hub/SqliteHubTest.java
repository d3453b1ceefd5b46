package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The hub on its durable default store: replay, restart, and a hard kill. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SqliteHubTest {
  @TempDir Path dir;

  @Test
  void resumesAfterDisconnectWithLastEventIdOnSqlite() throws Exception {
    try (HubFixture f =
        new HubFixture(TestStores.on(Hub.builder(), "sqlite:" + dir.resolve("events.db")))) {
      HubEndToEndTest.resumes(f);
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderWhileTheStoreWrites() throws Exception {
    try (HubFixture f =
        new HubFixture(TestStores.on(Hub.builder(), "sqlite:" + dir.resolve("events.db")))) {
      for (int i = 0; i < 20; i++) {
        HubEndToEndTest.answersPipelinedRequestsInOrder(f);
      }
    }
  }

  @Test
  void historySurvivesAGracefulRestart() throws Exception {
    String spec = "sqlite:" + dir.resolve("nested/dir/events.db");
    List<String> ids = new ArrayList<>();
    try (HubFixture f = new HubFixture(TestStores.on(Hub.builder(), spec))) {
      for (int i = 0; i < 3; i++) {
        ids.add(f.publish("{\"topic\": \"keep\", \"data\": \"" + i + "\"}"));
      }
    }
    try (HubFixture f = new HubFixture(TestStores.on(Hub.builder(), spec));
        SseStream stream = f.subscribe("?topic=keep", "Last-Event-ID", "earliest")) {
      assertThat(stream.next(3)).extracting(e -> e.id().orElseThrow()).isEqualTo(ids);
    }
  }

  @Test
  void everyAcknowledgedEventSurvivesAKilledHubInOrderWithItsId() throws Exception {
    Path file = dir.resolve("crash.db");
    int n = 40;
    List<String> ids = new ArrayList<>();
    Process first = startChild(file);
    try {
      int port = port(first);
      HttpClient client = HttpClient.newHttpClient();
      for (int i = 0; i < n; i++) {
        HttpResponse<String> r =
            client.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/events"))
                    .header("Content-Type", "application/json")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"topic\": \"crash\", \"data\": \"" + i + "\"}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        ids.add(HubFixture.json(r.body()).get("id").asText());
      }
    } finally {
      first.destroyForcibly();
      assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }
    Process second = startChild(file);
    try {
      int port = port(second);
      HttpClient client = HttpClient.newHttpClient();
      try (SseStream stream =
          SseStream.open(
              client,
              URI.create("http://127.0.0.1:" + port + "/events?topic=crash"),
              "Last-Event-ID",
              "earliest")) {
        List<Event> events = stream.next(n);
        assertThat(events).extracting(e -> e.id().orElseThrow()).isEqualTo(ids);
        for (int i = 0; i < n; i++) {
          assertThat(events.get(i).data()).isEqualTo(Integer.toString(i));
        }
      }
    } finally {
      second.destroyForcibly();
      second.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Process startChild(Path file) throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    return new ProcessBuilder(
            java.toString(),
            "-cp",
            System.getProperty("java.class.path"),
            CrashHubMain.class.getName(),
            file.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  private static int port(Process process) throws Exception {
    BufferedReader out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    assertThat(line).as("the child hub's port").startsWith("port ");
    return Integer.parseInt(line.substring(5).trim());
  }
}
