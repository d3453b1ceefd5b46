package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jwt.JWTClaimsSet;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every authentication and authorisation refusal on a hub with an HS256 secret: status, reason
 * code, {@code WWW-Authenticate}, that nothing was published or delivered (a subscriber with every
 * right sees only a later marker), and the order of refusals (401 before 400 before 403).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubAuthRefusalTest {
  private static HubFixture f;
  private static final String ADMIN = Tokens.admin();

  @BeforeAll
  static void start() {
    f = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET));
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private interface Request {
    HttpResponse<String> send() throws Exception;
  }

  /**
   * Runs the request with a fully authorised witness subscribed to t and members/m; checks the
   * answer, then that the witness's first event is a marker published afterwards.
   */
  private static HttpResponse<String> refused(Request request, int status, String code)
      throws Exception {
    try (SseStream witness =
        f.subscribe("?topic=t", "Member-ID", "m", "Authorization", "Bearer " + ADMIN)) {
      assertThat(witness.response().statusCode()).isEqualTo(200);
      HttpResponse<String> answer = request.send();
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(status);
      JsonNode body = HubFixture.json(answer.body());
      assertThat(body.get("error").asText()).isEqualTo(code);
      assertThat(body.get("message").asText()).isNotBlank();
      String marker =
          f.publish("{\"topic\": \"t\", \"data\": \"marker\"}", "Authorization", "Bearer " + ADMIN);
      assertThat(witness.next().id()).hasValue(marker);
      assertThat(f.get("/metrics").body()).contains("reason=\"" + code + "\"");
      return answer;
    }
  }

  /** Sends a GET on a raw socket (for targets HttpClient refuses) and reads the whole answer. */
  private static String rawGet(String target, String header) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", f.hub.address().getPort())) {
      socket.setSoTimeout(10_000);
      socket
          .getOutputStream()
          .write(
              ("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + header + "\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return new String(
          socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  private static void invalidToken(HttpResponse<String> answer) {
    assertThat(answer.headers().firstValue("WWW-Authenticate").orElseThrow())
        .startsWith("Bearer realm=\"herald\", error=\"invalid_token\", error_description=\"");
  }

  private static Request publishWith(String token) {
    return () ->
        f.post("{\"topic\": \"t\", \"data\": \"refused\"}", "Authorization", "Bearer " + token);
  }

  private static Request subscribeWith(String token, String query) {
    return () -> f.get("/events" + query, "Authorization", "Bearer " + token);
  }

  private static JWTClaimsSet.Builder everything() {
    return Tokens.claims("p", List.of("*"), List.of("*"));
  }

  @Test
  void publishWithoutTokenIs401TokenMissingWithBareChallenge() throws Exception {
    HttpResponse<String> answer =
        refused(() -> f.post("{\"topic\": \"t\", \"data\": \"x\"}"), 401, "token_missing");
    assertThat(answer.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"herald\"");
  }

  @Test
  void subscribeWithoutTokenIs401TokenMissing() throws Exception {
    HttpResponse<String> answer = refused(() -> f.get("/events?topic=t"), 401, "token_missing");
    assertThat(answer.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"herald\"");
  }

  @Test
  void malformedTokenIs401TokenMalformed() throws Exception {
    invalidToken(refused(publishWith("not-a-jwt"), 401, "token_malformed"));
  }

  @Test
  void authorizationWithoutBearerIs401TokenMalformed() throws Exception {
    invalidToken(
        refused(
            () -> f.post("{\"topic\": \"t\", \"data\": \"x\"}", "Authorization", "Basic dTpw"),
            401,
            "token_malformed"));
  }

  @Test
  void tokenSignedWithAnotherSecretIs401BadSignature() throws Exception {
    String other = Tokens.hs256("another-secret-that-is-also-long-enough!!", everything().build());
    invalidToken(refused(publishWith(other), 401, "bad_signature"));
  }

  @Test
  void unsignedTokenAlgNoneIs401AlgNotAllowed() throws Exception {
    invalidToken(
        refused(publishWith(Tokens.unsigned(everything().build())), 401, "alg_not_allowed"));
  }

  @Test
  void expiredTokenIs401TokenExpired() throws Exception {
    String expired =
        Tokens.hs256(
            everything().expirationTime(Date.from(Instant.now().minusSeconds(120))).build());
    invalidToken(refused(publishWith(expired), 401, "token_expired"));
  }

  @Test
  void tokenExpiredWithinTheClockSkewIsStillAccepted() throws Exception {
    String justExpired =
        Tokens.hs256(everything().expirationTime(Date.from(Instant.now().minusSeconds(5))).build());
    assertThat(
            f.post("{\"topic\": \"t\", \"data\": \"x\"}", "Authorization", "Bearer " + justExpired)
                .statusCode())
        .isEqualTo(201);
  }

  @Test
  void tokenNotYetValidIs401TokenNotYetValid() throws Exception {
    String future =
        Tokens.hs256(everything().notBeforeTime(Date.from(Instant.now().plusSeconds(300))).build());
    invalidToken(refused(publishWith(future), 401, "token_not_yet_valid"));
  }

  @Test
  void tamperedClaimsAre401BadSignature() throws Exception {
    String honest = Tokens.hs256(Tokens.claims("p", List.of("news"), List.of()).build());
    String[] parts = honest.split("\\.");
    String forged =
        Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(
                everything().build().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    invalidToken(
        refused(publishWith(parts[0] + "." + forged + "." + parts[2]), 401, "bad_signature"));
  }

  @Test
  void heraldClaimThatIsNotAnObjectIs401ClaimsInvalid() throws Exception {
    String bad = Tokens.hs256(everything().claim("herald", List.of("*")).build());
    invalidToken(refused(publishWith(bad), 401, "claims_invalid"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "sub | 5                | the \"sub\" claim must be a string, got a number",
        "exp | \"never\"      | the \"exp\" claim must be a number (seconds since the epoch), got a string",
        "nbf | \"soon\"       | the \"nbf\" claim must be a number (seconds since the epoch), got a string",
        "iat | true             | the \"iat\" claim must be a number (seconds since the epoch), got a boolean",
        "iss | [\"a\"]        | the \"iss\" claim must be a string, got a list",
        "aud | [1]              | the \"aud\" claim must be a string or a list of strings, got a list",
        "herald | \"*\"       | the \"herald\" claim must be a JSON object, got a string",
      })
  void claimOfTheWrongTypeIs401ClaimsInvalidNamingIt(String claim, String json, String message)
      throws Exception {
    // The payload as JSON text: nimbus's builder would turn 5 into "5" or drop a bad "aud".
    Map<String, Object> payload = new java.util.HashMap<>(everything().build().toJSONObject());
    payload.put(claim, HubFixture.JSON.readValue(json, Object.class));
    String token =
        Tokens.hmac(
            com.nimbusds.jose.JWSAlgorithm.HS256,
            Tokens.SECRET,
            HubFixture.JSON.writeValueAsString(payload));
    HttpResponse<String> answer = refused(publishWith(token), 401, "claims_invalid");
    invalidToken(answer);
    assertThat(HubFixture.json(answer.body()).get("message").asText()).isEqualTo(message);
    refused(subscribeWith(token, "?topic=t"), 401, "claims_invalid");
  }

  @ParameterizedTest
  @CsvSource({"HS384, 48", "HS512, 64"})
  void hsAlgorithmTheSecretIsTooShortForIs401AlgNotAllowedSayingWhy(String alg, int bytes)
      throws Exception {
    // Correctly signed with the hub's own 44-byte secret, as libraries that do not check its
    // length would sign it.
    String token =
        Tokens.hmac(com.nimbusds.jose.JWSAlgorithm.parse(alg), Tokens.SECRET, everything().build());
    HttpResponse<String> answer = refused(publishWith(token), 401, "alg_not_allowed");
    invalidToken(answer);
    assertThat(HubFixture.json(answer.body()).get("message").asText())
        .isEqualTo(
            alg
                + " needs a secret of at least "
                + bytes
                + " bytes; this hub's secret allows HS256");
    refused(subscribeWith(token, "?topic=t"), 401, "alg_not_allowed");
  }

  @Test
  void subscribingToATopicTheTokenDoesNotAllowIs403TopicNotAllowed() throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of(), List.of("news/*")).build());
    refused(subscribeWith(token, "?topic=news/a&topic=t"), 403, "topic_not_allowed");
  }

  @Test
  void publishingWithoutThePublishRightIs403PublishNotAllowed() throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of("news/*"), List.of("*")).build());
    refused(publishWith(token), 403, "publish_not_allowed");
  }

  @Test
  void memberIdOfAnotherMemberIs403OnSubscribeAndPublish() throws Exception {
    String token =
        Tokens.hs256(Tokens.claims("alice", List.of("members/alice"), List.of()).build());
    refused(
        () -> f.get("/events", "Authorization", "Bearer " + token, "Member-ID", "m"),
        403,
        "topic_not_allowed");
    refused(
        () ->
            f.post(
                "{\"event\": {\"type\": \"X\", \"body\": 1}}",
                "Authorization",
                "Bearer " + token,
                "Member-ID",
                "m"),
        403,
        "publish_not_allowed");
  }

  @Test
  void subjectMaySubscribeToItsOwnMemberTopicWithoutAClaim() throws Exception {
    String token = Tokens.hs256(Tokens.claims("m", List.of(), List.of()).build());
    try (SseStream own = f.subscribe("", "Authorization", "Bearer " + token, "Member-ID", "m")) {
      assertThat(own.response().statusCode()).isEqualTo(200);
      String id =
          f.publish(
              "{\"event\": {\"type\": \"HELLO\", \"body\": 1}}",
              "Authorization",
              "Bearer " + ADMIN,
              "Member-ID",
              "m");
      assertThat(own.next().id()).hasValue(id);
    }
  }

  @Test
  void missingTokenIsRefusedBeforeABadTopic() throws Exception {
    refused(() -> f.get("/events?topic=" + "x".repeat(300)), 401, "token_missing");
    refused(() -> f.post("{\"topic\": \"\", \"data\": 1}"), 401, "token_missing");
  }

  @Test
  void badTopicIsRefusedBeforeAForbiddenOne() throws Exception {
    String token = Tokens.hs256(Tokens.claims("u", List.of("news"), List.of("news")).build());
    refused(subscribeWith(token, "?topic=" + "x".repeat(300)), 400, "topic_invalid");
    refused(
        () ->
            f.post(
                "{\"topic\": \"t\", \"topics\": [\"t\"], \"data\": 1}",
                "Authorization",
                "Bearer " + token),
        400,
        "ambiguous_target");
  }

  @Test
  void routeAndMediaTypeAreRefusedBeforeAMissingToken() throws Exception {
    refused(() -> f.get("/nowhere"), 404, "not_found");
    refused(
        () ->
            f.client.send(
                java.net.http.HttpRequest.newBuilder(f.uri("/events"))
                    .header("Content-Type", "text/plain")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("x"))
                    .build(),
                HttpResponse.BodyHandlers.ofString()),
        415,
        "unsupported_media_type");
  }

  @Test
  void invalidHeaderTokenIsRefusedEvenWithAValidCookie() throws Exception {
    invalidToken(
        refused(
            () ->
                f.post(
                    "{\"topic\": \"t\", \"data\": 1}",
                    "Authorization",
                    "Bearer garbage",
                    "Cookie",
                    "herald_token=" + ADMIN),
            401,
            "token_malformed"));
  }

  @Test
  void invalidCookieTokenIsRefusedEvenWithAValidQueryToken() throws Exception {
    invalidToken(
        refused(
            () -> f.get("/events?topic=t&access_token=" + ADMIN, "Cookie", "herald_token=garbage"),
            401,
            "token_malformed"));
  }

  @Test
  void queryTokensNeverReachTheLogsOrTheErrorBody() throws Exception {
    String expired =
        Tokens.hs256(
            everything().expirationTime(Date.from(Instant.now().minusSeconds(120))).build());
    try (LogCapture logs = new LogCapture()) {
      refused(() -> f.get("/events?topic=t&access_token=" + expired), 401, "token_expired");
      // A query string Netty cannot decode: its exception message quotes the whole query.
      String bad =
          rawGet("/events?topic=%zz&access_token=" + ADMIN, "Authorization: Bearer " + ADMIN);
      assertThat(bad).startsWith("HTTP/1.1 400").contains("bad_request").contains("REDACTED");
      assertThat(bad.substring(bad.indexOf("\r\n\r\n"))).doesNotContain(ADMIN.split("\\.")[2]);
      refused(() -> f.get("/nowhere?access_token=" + ADMIN), 404, "not_found");
      List<String> lines = logs.lines();
      assertThat(lines).anyMatch(line -> line.contains("token_expired"));
      assertThat(lines).anyMatch(line -> line.contains("bad_request"));
      for (String line : lines) {
        assertThat(line).doesNotContain(expired).doesNotContain(ADMIN);
        assertThat(line).doesNotContain(expired.split("\\.")[2]);
      }
    }
    assertThat(f.get("/metrics").body()).doesNotContain(ADMIN).doesNotContain(expired);
  }

  @Test
  void tokensPutInThePathNeverReachTheLogs() throws Exception {
    for (String path :
        List.of(
            "/events/access_token=" + ADMIN,
            "/x;access_token=" + ADMIN + "/y",
            "/events/ACCESS%5FTOKEN%3D" + ADMIN)) {
      // A hub of its own per path: the first refusal of a reason is the one logged in full.
      try (HubFixture own = new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET));
          LogCapture logs = new LogCapture()) {
        HttpResponse<String> answer = own.get(path + "?topic=t");
        assertThat(answer.statusCode()).as(path).isEqualTo(404);
        assertThat(HubFixture.json(answer.body()).get("error").asText()).isEqualTo("not_found");
        assertThat(answer.body()).doesNotContain(ADMIN.split("\\.")[2]);
        List<String> lines = logs.lines();
        assertThat(lines.stream().filter(line -> line.contains("refused GET"))).as(path).hasSize(1);
        for (String line : lines) {
          assertThat(line).doesNotContain(ADMIN.split("\\.")[2]);
        }
      }
    }
  }

  @Test
  void claimsOfTheRefusedRequestNeverAppearAsMetricLabels() throws Exception {
    refused(publishWith("x"), 401, "token_malformed");
    String metrics = f.get("/metrics").body();
    assertThat(metrics).contains("herald_refusals_total{reason=\"token_malformed\"}");
  }

  @Test
  void subscriberSeesOnlyWhatItsTokenAllowsAmongMapsOfClaims() throws Exception {
    JWTClaimsSet claims =
        Tokens.claims("u", List.of(), List.of("news/*"))
            .claim("herald", Map.of("subscribe", List.of("news/*")))
            .build();
    try (SseStream news =
        f.subscribe("?topic=news/eu", "Authorization", "Bearer " + Tokens.hs256(claims))) {
      assertThat(news.response().statusCode()).isEqualTo(200);
    }
  }

  @Test
  void streamIsClosedWhenItsTokenExpires() throws Exception {
    try (HubFixture shortSkew =
        new HubFixture(Hub.builder().jwtSecret(Tokens.SECRET).jwtClockSkew(Duration.ZERO))) {
      String token =
          Tokens.hs256(
              Tokens.claims("u", List.of(), List.of("t"))
                  .expirationTime(Date.from(Instant.now().plusMillis(1500)))
                  .build());
      try (SseStream stream = shortSkew.subscribe("?topic=t", "Authorization", "Bearer " + token)) {
        assertThat(stream.response().statusCode()).isEqualTo(200);
        assertThat(stream.awaitEnd(Duration.ofSeconds(10))).isTrue();
        assertThat(stream.endedCleanly()).isTrue();
      }
      assertThat(shortSkew.get("/metrics").body())
          .containsPattern("herald_subscriptions_closed_total\\{reason=\"token_expired\"} 1.0");
    }
  }
}
