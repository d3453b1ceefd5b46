package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * CORS (preflight, credentialed cross-origin EventSource and publish, refused origins), the new
 * limits (new-connection rate, publish rate) and dev mode's refusal to bind a public address.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubCorsAndLimitsTest {
  private static final String APP = "https://app.example";
  private static final String EVIL = "https://evil.example";

  private static HubFixture corsHub() {
    return new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET).corsOrigins(List.of(APP)));
  }

  @Test
  void preflightFromAnAllowedOriginIs204WithMethodsHeadersAndMaxAge() throws Exception {
    try (HubFixture f = corsHub()) {
      HttpResponse<String> preflight =
          f.client.send(
              HttpRequest.newBuilder(f.uri("/events"))
                  .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                  .header("Origin", APP)
                  .header("Access-Control-Request-Method", "POST")
                  .header("Access-Control-Request-Headers", "content-type, authorization")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(preflight.statusCode()).isEqualTo(204);
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin")).hasValue(APP);
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Credentials"))
          .hasValue("true");
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Methods"))
          .hasValue("GET, POST, OPTIONS");
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElseThrow())
          .contains("Authorization", "Member-ID", "Last-Event-ID", "Content-Type");
      assertThat(preflight.headers().firstValue("Access-Control-Max-Age")).isPresent();
      assertThat(preflight.headers().allValues("Vary")).contains("Origin");
    }
  }

  @Test
  void preflightFromAnotherOriginIs403OriginNotAllowedWithoutCorsHeaders() throws Exception {
    try (HubFixture f = corsHub()) {
      HttpResponse<String> preflight =
          f.client.send(
              HttpRequest.newBuilder(f.uri("/events"))
                  .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                  .header("Origin", EVIL)
                  .header("Access-Control-Request-Method", "POST")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(preflight.statusCode()).isEqualTo(403);
      assertThat(HubFixture.json(preflight.body()).get("error").asText())
          .isEqualTo("origin_not_allowed");
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }
  }

  @Test
  void browserEventSourceWithCredentialsStreamsCrossOriginAndErrorsCarryCorsHeaders()
      throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of("t"), List.of("t")).build());
    try (HubFixture f = corsHub();
        // What a browser's new EventSource(url, {withCredentials: true}) sends.
        SseStream stream =
            f.subscribe(
                "?topic=t",
                "Origin",
                APP,
                "Cookie",
                "herald_token=" + token,
                "Accept",
                "text/event-stream")) {
      assertThat(stream.response().statusCode()).isEqualTo(200);
      assertThat(stream.response().headers().firstValue("Access-Control-Allow-Origin"))
          .hasValue(APP);
      assertThat(stream.response().headers().firstValue("Access-Control-Allow-Credentials"))
          .hasValue("true");
      assertThat(stream.response().headers().allValues("Vary")).contains("Origin");
      String id =
          f.publish(
              "{\"topic\": \"t\", \"data\": 1}", "Origin", APP, "Cookie", "herald_token=" + token);
      assertThat(stream.next().id()).hasValue(id);

      HttpResponse<String> error = f.get("/events?topic=t", "Origin", APP);
      assertThat(error.statusCode()).isEqualTo(401);
      assertThat(error.headers().firstValue("Access-Control-Allow-Origin")).hasValue(APP);
      assertThat(error.headers().firstValue("Access-Control-Allow-Credentials")).hasValue("true");
    }
  }

  @Test
  void publishFromADisallowedOriginIs403AndNothingIsPublished() throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of("t"), List.of("t")).build());
    try (HubFixture f = corsHub();
        SseStream witness = f.subscribe("?topic=t", "Authorization", "Bearer " + token)) {
      HttpResponse<String> refused =
          f.post(
              "{\"topic\": \"t\", \"data\": 1}", "Origin", EVIL, "Cookie", "herald_token=" + token);
      assertThat(refused.statusCode()).isEqualTo(403);
      assertThat(HubFixture.json(refused.body()).get("error").asText())
          .isEqualTo("origin_not_allowed");
      assertThat(refused.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
      HttpResponse<String> subscribe =
          f.get("/events?topic=t", "Origin", EVIL, "Cookie", "herald_token=" + token);
      assertThat(subscribe.statusCode()).isEqualTo(403);
      String marker =
          f.publish("{\"topic\": \"t\", \"data\": 2}", "Authorization", "Bearer " + token);
      assertThat(witness.next().id()).hasValue(marker);
    }
  }

  @Test
  void aRequestFromTheHubsOwnOriginNeedsNoAllowlistEntry() throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of("t"), List.of("t")).build());
    try (HubFixture f = corsHub()) {
      // A browser names the origin on a same-origin POST (the console's publish).
      String self = "http://127.0.0.1:" + f.hub.address().getPort();
      HttpResponse<String> own =
          f.post(
              "{\"topic\": \"t\", \"data\": 1}",
              "Origin",
              self,
              "Authorization",
              "Bearer " + token);
      assertThat(own.statusCode()).as(own.body()).isEqualTo(201);
      assertThat(own.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
      // The same host on another port is another origin.
      HttpResponse<String> otherPort =
          f.post(
              "{\"topic\": \"t\", \"data\": 2}",
              "Origin",
              "http://127.0.0.1:" + (f.hub.address().getPort() + 1),
              "Authorization",
              "Bearer " + token);
      assertThat(otherPort.statusCode()).isEqualTo(403);
      assertThat(HubFixture.json(otherPort.body()).get("error").asText())
          .isEqualTo("origin_not_allowed");
    }
  }

  @Test
  void wildcardOriginIsRefusedByTheBuilder() {
    assertThatThrownBy(() -> Hub.builder().corsOrigins(List.of("*")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("wildcard");
    assertThatThrownBy(() -> Hub.builder().corsOrigins(List.of("https://app.example/path")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an origin");
  }

  @Test
  void newConnectionsOverTheRateAre503TooManyConnectionsWithRetryAfter() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxNewConnectionsPerSecond(1))) {
      // Raw sockets make each request a new connection. The bucket holds one token and refills
      // one a second: the first connection takes it, the second, made at once, finds it empty.
      // Not a probe: probes are answered even over the rate (HubSlowClientTest).
      String request = "GET /presence?topic=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      assertThat(exchange(f, request)).startsWith("HTTP/1.1 200");
      String second = exchange(f, request);
      assertThat(second).startsWith("HTTP/1.1 503").contains("too_many_connections");
      assertThat(second.toLowerCase(java.util.Locale.ROOT)).contains("retry-after: 1");
    }
  }

  @Test
  void publishesOverTheRateOfOneSubjectAre429RateLimitedAndOthersGoOn() throws Exception {
    String alice = Tokens.hs256(Tokens.claims("alice", List.of("*"), List.of("*")).build());
    String bob = Tokens.hs256(Tokens.claims("bob", List.of("*"), List.of("*")).build());
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET).publishRate(2));
        SseStream witness = f.subscribe("?topic=t", "Authorization", "Bearer " + alice)) {
      String event = "{\"topic\": \"t\", \"data\": 1}";
      f.publish(event, "Authorization", "Bearer " + alice);
      f.publish(event, "Authorization", "Bearer " + alice);
      HttpResponse<String> limited = f.post(event, "Authorization", "Bearer " + alice);
      assertThat(limited.statusCode()).isEqualTo(429);
      assertThat(HubFixture.json(limited.body()).get("error").asText()).isEqualTo("rate_limited");
      assertThat(limited.headers().firstValue("Retry-After")).isPresent();
      witness.next(2);
      String marker = f.publish(event, "Authorization", "Bearer " + bob);
      assertThat(witness.next().id()).hasValue(marker);
    }
  }

  @Test
  void anonymousPublishesAreLimitedPerAddress() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().publishRate(1))) {
      f.publish("{\"topic\": \"t\", \"data\": 1}");
      HttpResponse<String> limited = f.post("{\"topic\": \"t\", \"data\": 1}");
      assertThat(limited.statusCode()).isEqualTo(429);
    }
  }

  @Test
  void devModeRefusesToBindAWildcardAddressAndNamesAllowAnonymous() {
    Hub hub = Hub.builder().port(0).bind("0.0.0.0").build();
    assertThatThrownBy(hub::start)
        .isInstanceOf(HubStartException.class)
        .hasMessageContaining("--allow-anonymous");
    assertThat(Hub.isLoopback("127.0.0.1")).isTrue();
    assertThat(Hub.isLoopback("::1")).isTrue();
    assertThat(Hub.isLoopback("0.0.0.0")).isFalse();
    assertThat(Hub.isLoopback("10.1.2.3")).isFalse();
  }

  @Test
  void devModeWithAllowAnonymousStartsOnANonLoopbackAddress() throws Exception {
    Optional<InetAddress> local = nonLoopbackAddress();
    if (local.isEmpty()) {
      // No non-loopback address here: the check itself is covered by isLoopback above.
      assertThat(Hub.isLoopback("192.0.2.1")).isFalse();
      return;
    }
    // Binding sends no traffic; nothing connects to it.
    String bind = local.get().getHostAddress();
    try (Hub hub = Hub.builder().port(0).bind(bind).allowAnonymous(true).build().start()) {
      assertThat(hub.authenticates()).isFalse();
      assertThat(hub.address().getPort()).isPositive();
    }
    Hub.Builder keyed = Hub.builder().port(0).bind(bind).jwtSecret(Tokens.SECRET);
    try (Hub started = keyed.build().start()) {
      assertThat(started.authenticates()).isTrue();
    }
  }

  private static Optional<InetAddress> nonLoopbackAddress() throws Exception {
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (nic.isUp() && !nic.isLoopback()) {
        for (InetAddress a : Collections.list(nic.getInetAddresses())) {
          if (a instanceof java.net.Inet4Address) {
            return Optional.of(a);
          }
        }
      }
    }
    return Optional.empty();
  }

  private static String exchange(HubFixture f, String request) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", f.hub.address().getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      out.write(in.readAllBytes());
      return out.toString(StandardCharsets.UTF_8);
    }
  }
}
