package dev.herald.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A started hub and an HTTP client to talk to it. */
final class HubFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  final Hub hub;
  final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  HubFixture(Hub.Builder builder) {
    this(builder, 0);
  }

  /** A hub on {@code port} (a restart on the port an earlier hub had). */
  HubFixture(Hub.Builder builder, int port) {
    this.hub = builder.port(port).bind("127.0.0.1").build().start();
  }

  /** A hub on the memory store with the defaults. */
  static HubFixture memory() {
    return new HubFixture(Hub.builder());
  }

  URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + hub.address().getPort() + pathAndQuery);
  }

  /** POSTs {@code json} to /events with the given extra headers. */
  HttpResponse<String> post(String json, String... headers) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri("/events"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Publishes {@code json}, expects 201 and returns the id. */
  String publish(String json, String... headers) throws Exception {
    HttpResponse<String> response = post(json, headers);
    if (response.statusCode() != 201) {
      throw new AssertionError("publish answered " + response.statusCode() + " " + response.body());
    }
    return JSON.readTree(response.body()).get("id").asText();
  }

  HttpResponse<String> get(String pathAndQuery, String... headers) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(10)).GET();
    if (headers.length > 0) {
      request.headers(headers);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Opens a stream on /events with the given query and headers. */
  SseStream subscribe(String query, String... headers) throws Exception {
    return SseStream.open(client, uri("/events" + query), headers);
  }

  static JsonNode json(String text) throws Exception {
    return JSON.readTree(text);
  }

  /** Publishes an event of {@code type} to {@code member} (member form), expects 201. */
  JsonNode publishMember(String member, String type) throws Exception {
    HttpResponse<String> answer =
        post("{\"event\": {\"type\": \"" + type + "\", \"body\": {}}}", "Member-ID", member);
    if (answer.statusCode() != 201) {
      throw new AssertionError("publish answered " + answer.statusCode() + " " + answer.body());
    }
    return json(answer.body());
  }

  /**
   * Polls {@code /presence?member=} until {@code condition} holds, bounded (15 s); 503 (a Redis
   * store coming back) is waited out, any other status fails.
   */
  JsonNode awaitPresence(String member, java.util.function.Predicate<JsonNode> condition)
      throws Exception {
    JsonNode presence = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (System.nanoTime() < deadline) {
      HttpResponse<String> answer = get("/presence?member=" + member);
      if (answer.statusCode() != 200 && answer.statusCode() != 503) {
        throw new AssertionError("presence answered " + answer.statusCode() + " " + answer.body());
      }
      if (answer.statusCode() == 200) {
        presence = json(answer.body());
        if (condition.test(presence)) {
          return presence;
        }
      }
      Thread.sleep(25); // polling a condition, bounded by the deadline
    }
    throw new AssertionError("presence never matched: " + presence);
  }

  /** A presence answer with this many devices and subscriptions. */
  static java.util.function.Predicate<JsonNode> devices(int devices, int subscriptions) {
    return p ->
        p.get("devices").size() == devices && p.get("subscriptions").asInt() == subscriptions;
  }

  @Override
  public void close() {
    hub.close();
  }
}
