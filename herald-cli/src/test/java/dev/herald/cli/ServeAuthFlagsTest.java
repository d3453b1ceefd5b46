package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.hub.Hub;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/** The auth, CORS and limit flags of {@code herald serve}, and their env variables. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ServeAuthFlagsTest {
  private static final String SECRET = "a-cli-test-secret-that-is-long-enough-for-hs256";

  @Test
  void defaultsAreDevModeWithLimits() {
    ServeCommand serve = CliRun.serve(Map.of());
    assertThat(serve.jwtSecret).isNull();
    assertThat(serve.jwtClockSkew).isEqualTo(Duration.ofSeconds(30));
    assertThat(serve.noQueryToken).isFalse();
    assertThat(serve.allowAnonymous).isFalse();
    assertThat(serve.corsOrigins).isEmpty();
    assertThat(serve.maxNewConnectionsPerSecond).isZero();
    assertThat(serve.publishRate).isZero();
    assertThat(serve.auth()).contains("NO AUTHENTICATION");
  }

  @Test
  void everyNewFlagReadsItsEnvironmentVariable() {
    ServeCommand serve =
        CliRun.serve(
            Map.ofEntries(
                Map.entry("HERALD_JWT_SECRET", SECRET),
                Map.entry("HERALD_JWT_CLOCK_SKEW", "5s"),
                Map.entry("HERALD_NO_QUERY_TOKEN", "true"),
                Map.entry("HERALD_ALLOW_ANONYMOUS", "true"),
                Map.entry("HERALD_CORS_ORIGIN", "https://a.example,https://b.example"),
                Map.entry("HERALD_MAX_NEW_CONNECTIONS_PER_SECOND", "20"),
                Map.entry("HERALD_PUBLISH_RATE", "2.5"),
                Map.entry("HERALD_STORE", "memory")));
    assertThat(serve.jwtSecret).isEqualTo(SECRET);
    assertThat(serve.jwtClockSkew).isEqualTo(Duration.ofSeconds(5));
    assertThat(serve.noQueryToken).isTrue();
    assertThat(serve.allowAnonymous).isTrue();
    assertThat(serve.corsOrigins).containsExactly("https://a.example", "https://b.example");
    assertThat(serve.maxNewConnectionsPerSecond).isEqualTo(20);
    assertThat(serve.publishRate).isEqualTo(2.5);
    assertThat(serve.auth()).contains("HMAC").doesNotContain(SECRET);
    assertThat(serve.hub().authenticates()).isTrue();
  }

  @Test
  void bannerSaysWhichHsAlgorithmsTheSecretAllows() {
    assertThat(CliRun.serve(Map.of("HERALD_JWT_SECRET", "s".repeat(40))).auth())
        .startsWith(
            "JWT, HMAC secret (HS256 only: the secret is 40 bytes; HS384 needs at least 48, HS512"
                + " needs at least 64)");
    assertThat(CliRun.serve(Map.of("HERALD_JWT_SECRET", "s".repeat(48))).auth())
        .startsWith("JWT, HMAC secret (HS256, HS384 only: the secret is 48 bytes; HS512 needs");
    assertThat(CliRun.serve(Map.of("HERALD_JWT_SECRET", "s".repeat(64))).auth())
        .startsWith("JWT, HMAC secret (HS256, HS384, HS512)");
  }

  @Test
  void keyFileAndJwksUrlFlagsParse() {
    assertThat(CliRun.serve(Map.of(), "--jwt-public-key", "k.pem").jwtPublicKey)
        .isEqualTo(Path.of("k.pem"));
    assertThat(CliRun.serve(Map.of("HERALD_JWKS_URL", "https://idp.example/jwks.json")).jwksUrl)
        .isEqualTo(URI.create("https://idp.example/jwks.json"));
  }

  @Test
  void repeatedCorsOriginFlagsAccumulate() {
    assertThat(
            CliRun.serve(
                    Map.of(),
                    "--cors-origin",
                    "https://a.example",
                    "--cors-origin",
                    "https://b.example")
                .corsOrigins)
        .containsExactly("https://a.example", "https://b.example");
  }

  @Test
  void shortSecretWildcardOriginAndTwoKeysAreParameterErrors() {
    assertThatThrownBy(
            () -> CliRun.serve(Map.of(), "--jwt-secret", "short", "--store", "memory").hub())
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("at least 32");
    assertThatThrownBy(
            () -> CliRun.serve(Map.of(), "--cors-origin", "*", "--store", "memory").hub())
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("wildcard");
    assertThatThrownBy(
            () ->
                CliRun.serve(
                        Map.of(),
                        "--jwt-secret",
                        SECRET,
                        "--jwks-url",
                        "https://x.example/j",
                        "--store",
                        "memory")
                    .hub())
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("only one of");
  }

  @Test
  void devModeOnAPublicAddressExitsNonZeroNamingAllowAnonymous() {
    CommandLine line = Herald.commandLine(Map.of());
    StringWriter err = new StringWriter();
    line.setErr(new PrintWriter(err, true));
    int status = line.execute("serve", "--store", "memory", "--port", "0", "--bind", "0.0.0.0");
    assertThat(status).isNotZero();
    assertThat(err.toString()).contains("--allow-anonymous");
  }

  @Test
  void bannerIsLoudInDevModeAndNamesCors() {
    ServeCommand serve =
        CliRun.serve(Map.of(), "--cors-origin", "https://a.example", "--store", "memory");
    String banner = serve.banner(new java.net.InetSocketAddress("127.0.0.1", 8080));
    assertThat(banner).contains("NO AUTHENTICATION").contains("cors:      https://a.example");
    Hub hub = serve.hub();
    assertThat(hub.authenticates()).isFalse();
  }
}
