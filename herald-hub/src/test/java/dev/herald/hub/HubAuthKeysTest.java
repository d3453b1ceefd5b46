package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The happy path of each key type (HS256 secret, RS256 and ES256 PEM, a JWKS served locally) and
 * each token source, token precedence, and the refusals tied to a key type: algorithm confusion, a
 * short secret, an unreachable JWKS.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubAuthKeysTest {
  @TempDir Path dir;

  private static final String EVENT = "{\"topic\": \"t\", \"data\": \"hello\"}";

  private static JWTClaimsSet rights() {
    return Tokens.claims("u", List.of("t"), List.of("t")).build();
  }

  /** Subscribes and publishes with {@code token} in the header; the event arrives. */
  private static void roundTrip(HubFixture f, String token) throws Exception {
    try (SseStream stream = f.subscribe("?topic=t", "Authorization", "Bearer " + token)) {
      assertThat(stream.response().statusCode()).isEqualTo(200);
      String id = f.publish(EVENT, "Authorization", "Bearer " + token);
      assertThat(stream.next().id()).hasValue(id);
    }
  }

  @Test
  void hs256SecretAcceptsItsTokens() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      roundTrip(f, Tokens.hs256(rights()));
    }
  }

  @Test
  void secretShorterThan256BitsIsRefusedByTheBuilder() {
    assertThatThrownBy(() -> Hub.builder().jwtSecret("short-secret"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 32");
  }

  @Test
  void secretOf64BytesAcceptsHs256Hs384AndHs512() throws Exception {
    String secret = "s".repeat(64);
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(secret))) {
      for (JWSAlgorithm alg : List.of(JWSAlgorithm.HS256, JWSAlgorithm.HS384, JWSAlgorithm.HS512)) {
        roundTrip(f, Tokens.hmac(alg, secret, rights()));
      }
    }
  }

  @Test
  void startLogSaysWhichHsAlgorithmsTheSecretAllows() {
    try (LogCapture logs = new LogCapture(List.of("dev.herald.hub.Hub"));
        HubFixture short40 = new HubFixture(Hub.builder().jwtSecret("s".repeat(40)));
        HubFixture long64 = new HubFixture(Hub.builder().jwtSecret("s".repeat(64)))) {
      assertThat(logs.lines())
          .contains(
              "auth: JWT with an HMAC secret, HS256 only: the secret is 40 bytes; HS384 needs at"
                  + " least 48, HS512 needs at least 64, clock skew PT30S, query tokens on",
              "auth: JWT with an HMAC secret, HS256, HS384, HS512, clock skew PT30S, query tokens"
                  + " on");
    }
  }

  @Test
  void rs256PemKeyAcceptsItsTokensAndRefusesHs256SignedWithThePublicKey() throws Exception {
    RSAKey key = Tokens.rsa("r1");
    Path pem = Tokens.pem(dir, "rsa.pem", key.toPublicKey());
    try (HubFixture f = new HubFixture(Hub.builder().jwtPublicKey(pem))) {
      roundTrip(f, Tokens.rs256(key, rights()));
      // Algorithm confusion: HS256 with the public key's PEM text as the HMAC secret.
      String confused =
          Tokens.sign(new MACSigner(Files.readAllBytes(pem)), JWSAlgorithm.HS256, null, rights());
      HttpResponse<String> refused = f.post(EVENT, "Authorization", "Bearer " + confused);
      assertThat(refused.statusCode()).isEqualTo(401);
      assertThat(HubFixture.json(refused.body()).get("error").asText())
          .isEqualTo("alg_not_allowed");
      assertThat(refused.headers().firstValue("WWW-Authenticate").orElseThrow())
          .contains("error=\"invalid_token\"");
      // Another RSA key's token does not verify.
      HttpResponse<String> other =
          f.post(EVENT, "Authorization", "Bearer " + Tokens.rs256(Tokens.rsa("r2"), rights()));
      assertThat(HubFixture.json(other.body()).get("error").asText()).isEqualTo("bad_signature");
    }
  }

  @Test
  void es256PemKeyAcceptsItsTokensAndRefusesRs256() throws Exception {
    ECKey key = Tokens.ec("e1");
    Path pem = Tokens.pem(dir, "ec.pem", key.toPublicKey());
    try (HubFixture f = new HubFixture(Hub.builder().jwtPublicKey(pem))) {
      roundTrip(f, Tokens.es256(key, rights()));
      HttpResponse<String> rsa =
          f.post(EVENT, "Authorization", "Bearer " + Tokens.rs256(Tokens.rsa("r"), rights()));
      assertThat(rsa.statusCode()).isEqualTo(401);
      assertThat(HubFixture.json(rsa.body()).get("error").asText()).isEqualTo("alg_not_allowed");
    }
  }

  @Test
  void pemFileWithoutAKeyIsRefusedByTheBuilder() throws Exception {
    Path junk = Files.writeString(dir.resolve("junk.pem"), "hello");
    assertThatThrownBy(() -> Hub.builder().jwtPublicKey(junk))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a PEM public key");
  }

  @Test
  void jwksKeysAreFetchedOnceAndAcceptTokensOfEachKey() throws Exception {
    RSAKey rsa = Tokens.rsa("rsa-1");
    ECKey ec = Tokens.ec("ec-1");
    AtomicInteger fetches = new AtomicInteger();
    HttpServer jwks = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] body =
        new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK()))
            .toString()
            .getBytes(StandardCharsets.UTF_8);
    jwks.createContext(
        "/jwks.json",
        exchange -> {
          fetches.incrementAndGet();
          exchange.getResponseHeaders().set("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    jwks.start();
    try (HubFixture f =
        new HubFixture(
            Hub.builder()
                .jwksUrl(
                    URI.create(
                        "http://127.0.0.1:" + jwks.getAddress().getPort() + "/jwks.json")))) {
      roundTrip(f, Tokens.rs256(rsa, rights()));
      roundTrip(f, Tokens.es256(ec, rights()));
      HttpResponse<String> stranger =
          f.post(EVENT, "Authorization", "Bearer " + Tokens.rs256(Tokens.rsa("rsa-1"), rights()));
      assertThat(HubFixture.json(stranger.body()).get("error").asText()).isEqualTo("bad_signature");
      assertThat(fetches.get()).isEqualTo(1);
      HttpResponse<String> hs = f.post(EVENT, "Authorization", "Bearer " + Tokens.admin());
      assertThat(HubFixture.json(hs.body()).get("error").asText()).isEqualTo("alg_not_allowed");
    } finally {
      jwks.stop(0);
    }
  }

  @Test
  void pipelinedPublishesVerifiedOffTheEventLoopAreAnsweredInOrder() throws Exception {
    RSAKey rsa = Tokens.rsa("rsa-p");
    HttpServer jwks = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] body = new JWKSet(rsa.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
    jwks.createContext(
        "/jwks.json",
        exchange -> {
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    jwks.start();
    URI url = URI.create("http://127.0.0.1:" + jwks.getAddress().getPort() + "/jwks.json");
    try (HubFixture f = new HubFixture(Hub.builder().jwksUrl(url));
        java.net.Socket socket = new java.net.Socket("127.0.0.1", f.hub.address().getPort())) {
      String token = Tokens.rs256(rsa, rights());
      StringBuilder requests = new StringBuilder();
      for (int i = 1; i <= 3; i++) {
        String json = "{\"topic\": \"t\", \"data\": " + i + "}";
        requests
            .append("POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            .append("Authorization: Bearer ")
            .append(token)
            .append(i == 3 ? "\r\nConnection: close" : "")
            .append("\r\nContent-Length: ")
            .append(json.length())
            .append("\r\n\r\n")
            .append(json);
      }
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(requests.toString().getBytes(StandardCharsets.US_ASCII));
      String answers =
          new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      java.util.regex.Matcher ids =
          java.util.regex.Pattern.compile("\\{\"id\":\"(\\d+)\",").matcher(answers);
      List<Long> seen = new java.util.ArrayList<>();
      while (ids.find()) {
        seen.add(Long.parseLong(ids.group(1)));
      }
      assertThat(answers.split("HTTP/1.1 201", -1)).hasSize(4);
      assertThat(seen).hasSize(3).isSorted();
    } finally {
      jwks.stop(0);
    }
  }

  @Test
  void unreachableJwksIs503JwksUnavailableAndTheHubStaysUp() throws Exception {
    int closedPort;
    try (ServerSocket free = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = free.getLocalPort();
    }
    try (HubFixture f =
        new HubFixture(
            Hub.builder().jwksUrl(URI.create("http://127.0.0.1:" + closedPort + "/jwks.json")))) {

      String token = Tokens.rs256(Tokens.rsa("k"), rights());
      HttpResponse<String> refused = f.post(EVENT, "Authorization", "Bearer " + token);
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(HubFixture.json(refused.body()).get("error").asText())
          .isEqualTo("jwks_unavailable");
      assertThat(refused.headers().firstValue("Retry-After")).isPresent();
      HttpResponse<String> subscribe = f.get("/events?topic=t", "Authorization", "Bearer " + token);
      assertThat(subscribe.statusCode()).isEqualTo(503);
      assertThat(f.get("/healthz").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void tokenIsAcceptedFromHeaderCookieAndQuery() throws Exception {
    String token = Tokens.hs256(rights());
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET));
        SseStream header = f.subscribe("?topic=t", "Authorization", "Bearer " + token);
        SseStream cookie = f.subscribe("?topic=t", "Cookie", "a=b; herald_token=" + token);
        SseStream query = f.subscribe("?topic=t&access_token=" + token)) {
      assertThat(List.of(header, cookie, query))
          .allSatisfy(s -> assertThat(s.response().statusCode()).isEqualTo(200));
      String id = f.publish(EVENT, "Cookie", "herald_token=" + token);
      assertThat(header.next().id()).hasValue(id);
      assertThat(cookie.next().id()).hasValue(id);
      assertThat(query.next().id()).hasValue(id);
    }
  }

  @Test
  void headerTokenWinsOverAGarbageCookieAndQuery() throws Exception {
    String token = Tokens.hs256(rights());
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET))) {
      HttpResponse<String> ok =
          f.client.send(
              java.net.http.HttpRequest.newBuilder(f.uri("/events?access_token=garbage"))
                  .header("Content-Type", "application/json")
                  .header("Authorization", "Bearer " + token)
                  .header("Cookie", "herald_token=garbage")
                  .POST(java.net.http.HttpRequest.BodyPublishers.ofString(EVENT))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
    }
  }

  @Test
  void queryTokensCanBeTurnedOff() throws Exception {
    String token = Tokens.hs256(rights());
    try (HubFixture f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET).queryTokens(false))) {
      HttpResponse<String> refused = f.get("/events?topic=t&access_token=" + token);
      assertThat(refused.statusCode()).isEqualTo(401);
      assertThat(HubFixture.json(refused.body()).get("error").asText()).isEqualTo("token_missing");
      assertThat(HubFixture.json(refused.body()).get("message").asText())
          .contains("--no-query-token");
    }
  }
}
