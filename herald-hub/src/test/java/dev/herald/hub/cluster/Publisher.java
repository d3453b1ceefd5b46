package dev.herald.hub.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Publishes over HTTP to one hub node and reports what the node answered. */
final class Publisher {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a publish got: the status, the body, and the id when it was 201. */
  record Answer(int status, String body, String id) {
    boolean acknowledged() {
      return status == 201;
    }

    /** The error code of a refusal's JSON body. */
    String error() throws Exception {
      return JSON.readTree(body).path("error").asText();
    }
  }

  private final HttpClient client;

  Publisher(HttpClient client) {
    this.client = client;
  }

  /**
   * POSTs {@code data} (a JSON string) to {@code topics} on {@code node}.
   *
   * @throws java.io.IOException if the node could not be reached or the connection broke
   */
  Answer publish(URI node, String data, String... topics) throws Exception {
    StringBuilder json = new StringBuilder("{\"topics\": [");
    for (int i = 0; i < topics.length; i++) {
      json.append(i == 0 ? "" : ", ").append('"').append(topics[i]).append('"');
    }
    json.append("], \"data\": \"").append(data).append("\"}");
    HttpResponse<String> response =
        client.send(
            HttpRequest.newBuilder(node.resolve("/events"))
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json.toString(), StandardCharsets.UTF_8))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    String id =
        response.statusCode() == 201 ? JSON.readTree(response.body()).get("id").asText() : "";
    return new Answer(response.statusCode(), response.body(), id);
  }

  /** GETs {@code /readyz} of {@code node}; returns the status. */
  int ready(URI node) throws Exception {
    return client
        .send(
            HttpRequest.newBuilder(node.resolve("/readyz")).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }
}
