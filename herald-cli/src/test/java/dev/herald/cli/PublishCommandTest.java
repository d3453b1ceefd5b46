package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.core.Event;
import dev.herald.core.SseParser;
import dev.herald.hub.Hub;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PublishCommandTest {
  private static Hub hub;
  private static String base;

  @BeforeAll
  static void start() {
    hub = Hub.builder().port(0).build().start();
    base = "http://127.0.0.1:" + hub.address().getPort();
  }

  @AfterAll
  static void stop() {
    hub.close();
  }

  private static CliRun herald(String... args) {
    return CliRun.herald(Map.of(), args);
  }

  /** Every event retained on {@code topic}, read with {@code Last-Event-ID: earliest}. */
  private static List<Event> history(String query, int n, String... headers) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base + "/events" + query))
            .header("Last-Event-ID", "earliest");
    if (headers.length > 0) {
      request.headers(headers);
    }
    HttpResponse<InputStream> response =
        HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
    List<Event> events = new ArrayList<>();
    SseParser parser = SseParser.create(events::add);
    try (InputStream in = response.body()) {
      byte[] buffer = new byte[4096];
      while (events.size() < n) {
        int read = in.read(buffer);
        assertThat(read).as("stream still open").isPositive();
        parser.feed(buffer, 0, read);
      }
    }
    return events;
  }

  @Test
  void publishesToATopicAndPrintsTheNewId() throws Exception {
    CliRun run = herald("publish", "--url", base, "--topic", "cli", "--data", "{\"a\": [1, 2]}");
    assertThat(run.exit()).as(run.err()).isZero();
    String id = run.out().strip();
    assertThat(id).matches("\\d+");
    Event event = history("?topic=cli", 1).get(0);
    assertThat(event.id()).hasValue(id);
    assertThat(event.data()).isEqualTo("{\"a\":[1,2]}");
  }

  @Test
  void textThatIsNotJsonIsSentAsAStringAndTypeIsKept() throws Exception {
    CliRun run =
        herald("publish", "--url", base, "--topic", "cli-text", "--type", "note", "--data", "hi");
    assertThat(run.exit()).as(run.err()).isZero();
    Event event = history("?topic=cli-text", 1).get(0);
    assertThat(event.type()).isEqualTo("note");
    assertThat(event.data()).isEqualTo("hi");
  }

  @Test
  void memberFormReadsDataFromAFile(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("body.json");
    Files.writeString(file, "{\"order\": 7}");
    CliRun run =
        herald(
            "publish",
            "--url",
            base,
            "--member",
            "carol",
            "--type",
            "SHIPPED",
            "--data",
            "@" + file);
    assertThat(run.exit()).as(run.err()).isZero();
    Event event = history("", 1, "Member-ID", "carol").get(0);
    assertThat(event.id()).hasValue(run.out().strip());
    assertThat(event.type()).isEqualTo("SHIPPED");
    JsonNode data = new ObjectMapper().readTree(event.data());
    assertThat(data.get("body").get("order").asInt()).isEqualTo(7);
  }

  @Test
  void hubRefusalExitsNonZeroWithTheHubsMessage() {
    CliRun run = herald("publish", "--url", base, "--topic", "bad\u0001topic", "--data", "1");
    assertThat(run.exit()).isNotZero();
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).contains("400 topic_invalid").contains("control characters");
  }

  @Test
  void unreachableHubExitsNonZero() {
    CliRun run = herald("publish", "--url", "http://127.0.0.1:1", "--topic", "t", "--data", "1");
    assertThat(run.exit()).isNotZero();
    assertThat(run.err()).contains("cannot reach");
  }

  @Test
  void topicAndMemberTogetherAreAUsageError() {
    CliRun run = herald("publish", "--url", base, "--topic", "t", "--member", "m", "--data", "1");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).contains("mutually exclusive");
  }

  @Test
  void publishesToTheHubHeraldUrlNames() throws Exception {
    CliRun run =
        CliRun.herald(Map.of("HERALD_URL", base), "publish", "--topic", "cli-env", "--data", "1");

    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(history("?topic=cli-env", 1).get(0).id()).hasValue(run.out().strip());
  }

  @Test
  void theUrlFlagBeatsHeraldUrl() throws Exception {
    CliRun run =
        CliRun.herald(
            Map.of("HERALD_URL", "http://127.0.0.1:1"),
            "publish",
            "--url",
            base + "/",
            "--topic",
            "cli-flag",
            "--data",
            "2");

    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(history("?topic=cli-flag", 1).get(0).data()).isEqualTo("2");
  }

  @Test
  void aHeraldUrlThatIsNotAnHttpUrlIsAUsageErrorNamingIt() {
    CliRun run = CliRun.herald(Map.of("HERALD_URL", "localhost:8080"), "publish", "--topic", "t");

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains("--url (or HERALD_URL) 'localhost:8080' is not an http or https URL");
  }

  @Test
  void intervalPublishesATickEveryIntervalCountTimes() throws Exception {
    CliRun run =
        herald("publish", "--url", base, "--topic", "ticks", "--interval", "150ms", "--count", "3");

    assertThat(run.exit()).as(run.err()).isZero();
    List<String> ids = run.out().lines().toList();
    assertThat(ids).hasSize(3).allMatch(id -> id.matches("\\d+"));
    List<Event> events = history("?topic=ticks", 3);
    assertThat(events).extracting(e -> e.id().orElseThrow()).containsExactlyElementsOf(ids);
    assertThat(events).extracting(Event::type).containsOnly(PublishCommand.TICK_TYPE);
    ObjectMapper json = new ObjectMapper();
    List<java.time.Instant> times = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      JsonNode data = json.readTree(events.get(i).data());
      assertThat(data.get("tick").asInt()).isEqualTo(i + 1);
      times.add(java.time.Instant.parse(data.get("time").asText()));
    }
    // At a fixed rate: the third tick comes two intervals after the first, not at once.
    assertThat(java.time.Duration.between(times.get(0), times.get(2)))
        .isGreaterThanOrEqualTo(java.time.Duration.ofMillis(290));
  }

  @Test
  void intervalKeepsTheGivenDataAndTypeAndTicksAMembersTopic() throws Exception {
    CliRun topic =
        herald(
            "publish",
            "--url",
            base,
            "--topic",
            "beats",
            "--type",
            "beat",
            "--data",
            "{\"x\": 1}",
            "--interval",
            "10ms",
            "--count",
            "2");
    assertThat(topic.exit()).as(topic.err()).isZero();
    assertThat(history("?topic=beats", 2))
        .allSatisfy(
            e -> {
              assertThat(e.type()).isEqualTo("beat");
              assertThat(e.data()).isEqualTo("{\"x\":1}");
            });

    CliRun member =
        herald("publish", "--url", base, "--member", "dora", "--interval", "10ms", "--count", "1");
    assertThat(member.exit()).as(member.err()).isZero();
    Event tick = history("", 1, "Member-ID", "dora").get(0);
    assertThat(tick.type()).isEqualTo(PublishCommand.TICK_TYPE);
    assertThat(new ObjectMapper().readTree(tick.data()).get("body").get("tick").asInt())
        .isEqualTo(1);
  }

  @Test
  void aTickTheHubRefusesStopsTheTickingWithExit1() {
    CliRun run =
        herald(
            "publish",
            "--url",
            base,
            "--topic",
            "bad\u0001topic",
            "--interval",
            "10ms",
            "--count",
            "5");
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err().lines()).hasSize(1).allMatch(l -> l.contains("400 topic_invalid"));
  }

  @Test
  void aTickThatCannotReachTheHubIsReportedAndTheNextOneTried() {
    CliRun run =
        herald(
            "publish",
            "--url",
            "http://127.0.0.1:1",
            "--topic",
            "t",
            "--interval",
            "10ms",
            "--count",
            "3");
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.err().lines().filter(l -> l.contains("cannot reach")).count()).isEqualTo(3);
  }

  @Test
  void countWithoutIntervalOrANonPositiveIntervalIsAUsageError() {
    CliRun count = herald("publish", "--url", base, "--topic", "t", "--count", "3");
    assertThat(count.exit()).isEqualTo(2);
    assertThat(count.err()).contains("--count needs --interval");
    CliRun zero = herald("publish", "--url", base, "--topic", "t", "--interval", "0s");
    assertThat(zero.exit()).isEqualTo(2);
    assertThat(zero.err()).contains("--interval must be positive");
  }
}
