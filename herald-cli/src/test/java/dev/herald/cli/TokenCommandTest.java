package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.SignedJWT;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code herald token}: the printed token verifies with the same secret and carries the claims. */
class TokenCommandTest {
  private static final String SECRET = "a-cli-test-secret-that-is-long-enough-for-hs256";

  private record Run(int status, String out, String err) {}

  private static Run token(String... args) {
    CommandLine line = Herald.commandLine(Map.of());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    line.setOut(new PrintWriter(out, true));
    line.setErr(new PrintWriter(err, true));
    String[] full = new String[args.length + 1];
    full[0] = "token";
    System.arraycopy(args, 0, full, 1, args.length);
    int status = line.execute(full);
    return new Run(status, out.toString().strip(), err.toString());
  }

  @Test
  void mintedTokenVerifiesWithTheSecretAndCarriesTheClaims() throws Exception {
    Instant before = Instant.now();
    Run run =
        token(
            "--secret",
            SECRET,
            "--sub",
            "alice",
            "--publish",
            "news/*",
            "--publish",
            "alerts",
            "--subscribe",
            "*",
            "--ttl",
            "2h");
    assertThat(run.status).as(run.err).isZero();
    SignedJWT jwt = SignedJWT.parse(run.out);
    assertThat(jwt.getHeader().getAlgorithm().getName()).isEqualTo("HS256");
    assertThat(jwt.verify(new MACVerifier(SECRET.getBytes(StandardCharsets.UTF_8)))).isTrue();
    assertThat(
            jwt.verify(
                new MACVerifier(
                    "another-secret-that-is-long-enough-too!".getBytes(StandardCharsets.UTF_8))))
        .isFalse();
    var claims = jwt.getJWTClaimsSet();
    assertThat(claims.getSubject()).isEqualTo("alice");
    Map<String, Object> herald = claims.getJSONObjectClaim("herald");
    assertThat(herald.get("publish")).isEqualTo(List.of("news/*", "alerts"));
    assertThat(herald.get("subscribe")).isEqualTo(List.of("*"));
    Duration ttl = Duration.between(before, claims.getExpirationTime().toInstant());
    assertThat(ttl).isBetween(Duration.ofMinutes(119), Duration.ofMinutes(121));
  }

  @Test
  void mintedTokenIsAcceptedByAHubWithTheSameSecret() throws Exception {
    Run run = token("--secret", SECRET, "--sub", "bob", "--publish", "news");
    assertThat(run.status).isZero();
    try (dev.herald.hub.Hub hub =
        dev.herald.hub.Hub.builder().port(0).jwtSecret(SECRET).build().start()) {
      java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
      java.net.http.HttpRequest.Builder post =
          java.net.http.HttpRequest.newBuilder(
                  java.net.URI.create("http://127.0.0.1:" + hub.address().getPort() + "/events"))
              .timeout(Duration.ofSeconds(10))
              .header("Content-Type", "application/json")
              .header("Authorization", "Bearer " + run.out);
      var ok =
          client.send(
              post.POST(
                      java.net.http.HttpRequest.BodyPublishers.ofString(
                          "{\"topic\": \"news\", \"data\": 1}"))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
      var forbidden =
          client.send(
              post.POST(
                      java.net.http.HttpRequest.BodyPublishers.ofString(
                          "{\"topic\": \"sports\", \"data\": 1}"))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(forbidden.statusCode()).isEqualTo(403);
      assertThat(forbidden.body()).contains("publish_not_allowed");
    }
  }

  @Test
  void shortSecretIsRefusedLikeTheHubRefusesIt() {
    Run run = token("--secret", "short");
    assertThat(run.status).isNotZero();
    assertThat(run.out).isEmpty();
    assertThat(run.err).contains("at least 32");
  }
}
