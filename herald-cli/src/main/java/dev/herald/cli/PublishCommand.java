package dev.herald.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code herald publish}: sends one event to a hub and prints its id. A 4xx or 5xx answer exits
 * non-zero with the hub's message on stderr.
 *
 * <p>With {@code --interval 1s} it publishes a tick every interval, {@code --count} times or until
 * stopped, printing each id: what a tutorial's stream that ticks every second shows, so the console
 * (or {@code herald listen}) has something to show in one command. Each tick's data is {@code
 * {"tick": n, "time": "<ISO-8601>"}} unless {@code --data} gives one.
 */
@Command(
    name = "publish",
    mixinStandardHelpOptions = true,
    description = {
      "Publish one event to a hub and print its id.",
      "With --interval, publish a tick every interval (--count times, or until stopped)."
    })
final class PublishCommand implements Callable<Integer> {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The type of the ticks of {@code --interval} unless {@code --type} names one. */
  static final String TICK_TYPE = "tick";

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--url",
      defaultValue = HubUrl.DEFAULT,
      paramLabel = "BASE",
      description = "The hub's base URL; the env variable HERALD_URL sets it for every command.")
  String url;

  @ArgGroup(multiplicity = "1")
  Target target;

  /** Exactly one of the two targets. */
  static final class Target {
    @Option(names = "--topic", required = true, description = "The topic to publish to.")
    String topic;

    @Option(
        names = "--member",
        required = true,
        description = "The member whose topic (members/<id>) to publish to; needs --type.")
    String member;
  }

  @Option(
      names = "--type",
      description =
          "The event type (default message, tick with --interval; required with --member).")
  String type;

  @Option(
      names = "--data",
      description =
          "The data: a JSON value, or @file to read it from a file. Text that is not JSON is"
              + " sent as a string. Default: \"\" (empty), with --interval"
              + " {\"tick\": n, \"time\": \"<now>\"}.")
  String data;

  @Option(names = "--token", description = "A JWT sent as Authorization: Bearer.")
  String token;

  @Option(
      names = "--interval",
      converter = Units.DurationConverter.class,
      description =
          "Publish every interval, e.g. 1s or 500ms, until stopped or --count events; a failed"
              + " tick (hub down) is reported and the next one tried.")
  Duration interval;

  @Option(
      names = "--count",
      description = "With --interval: how many to publish (default: until stopped).")
  Long count;

  private final HttpClient client =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** The status of the last answer, 0 when the hub could not be reached. */
  private int lastStatus;

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (target.member != null && type == null && interval == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--member needs --type: the member form requires an event type");
    }
    if (count != null && interval == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--count needs --interval: without it one event is published");
    }
    if (count != null && count < 1) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
    }
    if (interval != null && (interval.isZero() || interval.isNegative())) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--interval must be positive, e.g. 1s or 500ms");
    }
    JsonNode value = data == null ? null : value(data);
    if (interval == null) {
      return publish(value == null ? TextNode.valueOf("") : value, type) ? 0 : 1;
    }
    return ticks(value);
  }

  /** Publishes a tick every interval, at a fixed rate; exits 1 if any tick failed. */
  private int ticks(JsonNode value) throws IOException, InterruptedException {
    String tickType = type == null ? TICK_TYPE : type;
    long intervalNanos = interval.toNanos();
    long next = System.nanoTime();
    boolean allPublished = true;
    for (long tick = 1; count == null || tick <= count; tick++) {
      JsonNode tickData = value;
      if (tickData == null) {
        ObjectNode generated = JSON.createObjectNode();
        generated.put("tick", tick);
        generated.put("time", Instant.now().toString());
        tickData = generated;
      }
      if (!publish(tickData, tickType)) {
        if (lastStatus >= 400 && lastStatus < 500 && lastStatus != 408 && lastStatus != 429) {
          return 1; // the hub refused the request itself: the next tick would be refused too
        }
        allPublished = false;
      }
      if (count != null && tick == count) {
        break;
      }
      next += intervalNanos;
      long wait = next - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      } else {
        next = System.nanoTime(); // a slow publish: tick again now, and on from here
      }
    }
    return allPublished ? 0 : 1;
  }

  /** Publishes one event; prints its id, or the failure on stderr. */
  private boolean publish(JsonNode value, String eventType)
      throws IOException, InterruptedException {
    ObjectNode body = JSON.createObjectNode();
    HttpRequest.Builder request =
        HttpRequest.newBuilder(events(url))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json");
    if (target.member != null) {
      request.header("Member-ID", target.member);
      ObjectNode event = body.putObject("event");
      event.put("type", eventType == null ? TICK_TYPE : eventType);
      event.set("body", value);
    } else {
      body.put("topic", target.topic);
      if (eventType != null) {
        body.put("type", eventType);
      }
      body.set("data", value);
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    request.POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8));
    HttpResponse<String> response;
    try {
      response =
          client.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      lastStatus = 0;
      spec.commandLine().getErr().println("herald publish: cannot reach " + url + ": " + e);
      spec.commandLine().getErr().flush();
      return false;
    }
    lastStatus = response.statusCode();
    if (response.statusCode() >= 400) {
      spec.commandLine().getErr().println("herald publish: " + failure(response));
      spec.commandLine().getErr().flush();
      return false;
    }
    String id = JSON.readTree(response.body()).path("id").asText("");
    spec.commandLine().getOut().println(id);
    spec.commandLine().getOut().flush();
    return true;
  }

  private URI events(String base) {
    return HubUrl.resolve(spec.commandLine(), base, "/events");
  }

  private JsonNode value(String text) throws IOException {
    String raw = text;
    if (text.startsWith("@")) {
      Path file = Path.of(text.substring(1));
      try {
        raw = Files.readString(file, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "cannot read --data file " + file + ": " + e.getMessage());
      }
    }
    if (raw.isBlank()) {
      return TextNode.valueOf(raw);
    }
    try {
      return JSON.readTree(raw);
    } catch (JsonProcessingException e) {
      return TextNode.valueOf(raw);
    }
  }

  /** The hub's status, reason code and message, or the raw body when it is not a JSON error. */
  private static String failure(HttpResponse<String> response) {
    try {
      JsonNode error = JSON.readTree(response.body());
      if (error != null && error.has("error")) {
        return response.statusCode()
            + " "
            + error.path("error").asText()
            + ": "
            + error.path("message").asText();
      }
    } catch (JsonProcessingException e) {
      // Not a hub error body (a proxy's page, say): show it as it is.
    }
    return response.statusCode() + " " + response.body();
  }
}
