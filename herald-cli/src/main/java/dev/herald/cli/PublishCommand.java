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
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code herald publish}: sends one event to a hub and prints its id. A 4xx or 5xx answer exits
 * non-zero with the hub's message on stderr.
 */
@Command(
    name = "publish",
    mixinStandardHelpOptions = true,
    description = "Publish one event to a hub and print its id.")
final class PublishCommand implements Callable<Integer> {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

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
      description = "The event type (default message; required with --member).")
  String type;

  @Option(
      names = "--data",
      defaultValue = "\"\"",
      description =
          "The data: a JSON value, or @file to read it from a file. Text that is not JSON is"
              + " sent as a string.")
  String data;

  @Option(names = "--token", description = "A JWT sent as Authorization: Bearer.")
  String token;

  @Override
  public Integer call() throws IOException, InterruptedException {
    JsonNode value = value(data);
    ObjectNode body = JSON.createObjectNode();
    HttpRequest.Builder request =
        HttpRequest.newBuilder(events(url))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json");
    if (target.member != null) {
      if (type == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--member needs --type: the member form requires an event type");
      }
      request.header("Member-ID", target.member);
      ObjectNode event = body.putObject("event");
      event.put("type", type);
      event.set("body", value);
    } else {
      body.put("topic", target.topic);
      if (type != null) {
        body.put("type", type);
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
          HttpClient.newBuilder()
              .connectTimeout(Duration.ofSeconds(10))
              .build()
              .send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      spec.commandLine().getErr().println("herald publish: cannot reach " + url + ": " + e);
      return 1;
    }
    if (response.statusCode() >= 400) {
      spec.commandLine().getErr().println("herald publish: " + failure(response));
      return 1;
    }
    String id = JSON.readTree(response.body()).path("id").asText("");
    spec.commandLine().getOut().println(id);
    spec.commandLine().getOut().flush();
    return 0;
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
