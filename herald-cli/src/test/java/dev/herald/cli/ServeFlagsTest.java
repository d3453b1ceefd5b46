package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.hub.Hub;
import dev.herald.hub.testing.H2Client;
import dev.herald.hub.testing.TestCertificates;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class ServeFlagsTest {
  /** Parses {@code herald serve <args>} with the given environment. */
  @Test
  void defaultsAreThoseOfTheDesign() {
    ServeCommand serve = CliRun.serve(Map.of());
    assertThat(serve.port).isEqualTo(8080);
    assertThat(serve.bind).isEqualTo("127.0.0.1");
    assertThat(serve.store).isEqualTo("sqlite:./herald-data/events.db");
    assertThat(serve.heartbeat).isEqualTo(Duration.ofSeconds(15));
    assertThat(serve.retentionCount).isEqualTo(1000);
    assertThat(serve.retentionAge).isEqualTo(Duration.ofHours(24));
    assertThat(serve.maxEventBytes).isEqualTo(1 << 20);
    assertThat(serve.maxBufferBytes).isEqualTo(1 << 20);
    assertThat(serve.maxConnectionsPerIp).isZero();
    assertThat(serve.fsync).isFalse();
    assertThat(serve.drain).isEqualTo(Duration.ofSeconds(10));
    assertThat(serve.publishRate).as("no publish rate limit unless configured").isZero();
    assertThat(serve.maxNewConnectionsPerSecond).isZero();
  }

  @Test
  void theConnectionLimitIsWhatTheFileDescriptorLimitAllows() throws Exception {
    // The soft limit, as the kernel reports it for this process (the JVM reads the same).
    long limit = -1;
    for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/limits"))) {
      if (line.startsWith("Max open files")) {
        limit = Long.parseLong(line.substring(26).trim().split("\\s+")[0]);
      }
    }
    assertThat(limit).isGreaterThan(Hub.FD_HEADROOM);
    ServeCommand serve = CliRun.serve(Map.of());
    assertThat(serve.maxConnections).isEqualTo(limit - Hub.FD_HEADROOM);
    assertThat(Hub.defaultMaxConnections()).isEqualTo(serve.maxConnections);
  }

  @Test
  void drainTakesADuration() {
    assertThat(CliRun.serve(Map.of(), "--drain", "2s").drain).isEqualTo(Duration.ofSeconds(2));
    assertThat(CliRun.serve(Map.of("HERALD_DRAIN", "0s")).drain).isEqualTo(Duration.ZERO);
  }

  @Test
  void everyFlagReadsItsEnvironmentVariable() {
    ServeCommand serve =
        CliRun.serve(
            Map.ofEntries(
                Map.entry("HERALD_PORT", "9090"),
                Map.entry("HERALD_BIND", "0.0.0.0"),
                Map.entry("HERALD_STORE", "memory"),
                Map.entry("HERALD_HEARTBEAT", "500ms"),
                Map.entry("HERALD_RETENTION_COUNT", "7"),
                Map.entry("HERALD_RETENTION_AGE", "2h"),
                Map.entry("HERALD_MAX_EVENT_BYTES", "512KiB"),
                Map.entry("HERALD_MAX_BUFFER_BYTES", "2MiB"),
                Map.entry("HERALD_MAX_CONNECTIONS", "50"),
                Map.entry("HERALD_MAX_CONNECTIONS_PER_IP", "5"),
                Map.entry("HERALD_FSYNC", "true")));
    assertThat(serve.port).isEqualTo(9090);
    assertThat(serve.bind).isEqualTo("0.0.0.0");
    assertThat(serve.store).isEqualTo("memory");
    assertThat(serve.heartbeat).isEqualTo(Duration.ofMillis(500));
    assertThat(serve.retentionCount).isEqualTo(7);
    assertThat(serve.retentionAge).isEqualTo(Duration.ofHours(2));
    assertThat(serve.maxEventBytes).isEqualTo(512 * 1024);
    assertThat(serve.maxBufferBytes).isEqualTo(2 * 1024 * 1024);
    assertThat(serve.maxConnections).isEqualTo(50);
    assertThat(serve.maxConnectionsPerIp).isEqualTo(5);
    assertThat(serve.fsync).isTrue();
  }

  @Test
  void aFlagBeatsItsEnvironmentVariable() {
    ServeCommand serve =
        CliRun.serve(
            Map.of("HERALD_PORT", "9090", "HERALD_FSYNC", "true", "HERALD_HEARTBEAT", "1s"),
            "--port",
            "7070",
            "--fsync=false",
            "--heartbeat=2s");
    assertThat(serve.port).isEqualTo(7070);
    assertThat(serve.fsync).isFalse();
    assertThat(serve.heartbeat).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void timeoutFlagsHaveTheirDefaultsReadTheEnvironmentAndReachTheHub() throws Exception {
    ServeCommand defaults = CliRun.serve(Map.of());
    assertThat(defaults.requestHeadTimeout).isEqualTo(Duration.ofSeconds(10));
    assertThat(defaults.requestBodyTimeout).isEqualTo(Duration.ofSeconds(30));
    assertThat(defaults.idleTimeout).isEqualTo(Duration.ofSeconds(60));
    ServeCommand serve =
        CliRun.serve(
            Map.of("HERALD_REQUEST_HEAD_TIMEOUT", "200ms", "HERALD_REQUEST_BODY_TIMEOUT", "5s"),
            "--idle-timeout",
            "2m",
            "--store",
            "memory",
            "--port",
            "0");
    assertThat(serve.requestBodyTimeout).isEqualTo(Duration.ofSeconds(5));
    assertThat(serve.idleTimeout).isEqualTo(Duration.ofMinutes(2));
    // The head timeout reaches the hub: a connection that sends nothing is closed after 200 ms.
    try (Hub hub = serve.hub().start();
        Socket silent = new Socket("127.0.0.1", hub.address().getPort())) {
      silent.setSoTimeout(5000);
      assertThat(silent.getInputStream().read()).isEqualTo(-1);
    }
  }

  @Test
  void tlsFlagsServeHttpsWithHttp2AndTheStreamLimitReachesTheHub(@TempDir Path dir)
      throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "serve", "EC");
    assertThat(CliRun.serve(Map.of()).maxStreamsPerConnection).isEqualTo(100);
    ServeCommand serve =
        CliRun.serve(
            Map.of(
                "HERALD_TLS_KEY", cert.key().toString(), "HERALD_MAX_STREAMS_PER_CONNECTION", "7"),
            "--tls-cert",
            cert.cert().toString(),
            "--store",
            "memory",
            "--port",
            "0");
    try (Hub hub = serve.hub().start();
        H2Client client = H2Client.tls(hub.address().getPort(), cert.root())) {
      assertThat(serve.banner(hub.address()))
          .startsWith("Herald hub listening on https://127.0.0.1:" + hub.address().getPort())
          .contains("HTTP/2 and HTTP/1.1 (ALPN)")
          .contains("HTTP/2 streams 7 per connection");
      assertThat(client.serverSettings().maxConcurrentStreams()).isEqualTo(7L);
      assertThat(client.get("/healthz").status()).isEqualTo(200);
    }
  }

  @Test
  void tlsCertWithoutKeyOrABadPairIsAParameterError(@TempDir Path dir) throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "half", "EC");
    TestCertificates.Pair other = TestCertificates.selfSigned(dir, "other", "RSA");
    assertThatThrownBy(() -> CliRun.serve(Map.of(), "--tls-cert", cert.cert().toString()).hub())
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("give --tls-cert and --tls-key together");
    assertThatThrownBy(
            () ->
                CliRun.serve(
                        Map.of(),
                        "--store",
                        "memory",
                        "--tls-cert",
                        cert.cert().toString(),
                        "--tls-key",
                        other.key().toString())
                    .hub())
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("does not belong to the first certificate");
  }

  @Test
  void fsyncFlagAloneMeansTrue() {
    assertThat(CliRun.serve(Map.of(), "--fsync").fsync).isTrue();
  }

  @ParameterizedTest
  @CsvSource({"500ms,500", "15s,15000", "5m,300000", "24h,86400000", "7d,604800000", "0s,0"})
  void durationsParseWithTheirUnit(String text, long millis) {
    assertThat(Units.duration(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @CsvSource({"1024,1024", "100B,100", "512KiB,524288", "1MiB,1048576", "2GiB,2147483648"})
  void sizesParseAsBytesOrWithABinaryUnit(String text, long bytes) {
    assertThat(Units.size(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"15", "15x", "1.5s", "-1s", "s", ""})
  void badDurationsAreRefusedWithTheFormsAccepted(String text) {
    assertThatThrownBy(() -> Units.duration(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("500ms, 15s");
  }

  @ParameterizedTest
  @ValueSource(strings = {"1MB", "1.5MiB", "-1", "lots", "1 KiB"})
  void badSizesAreRefusedWithTheFormsAccepted(String text) {
    assertThatThrownBy(() -> Units.size(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("512KiB");
  }

  @Test
  void badFlagValueIsAParameterErrorNamingTheFlag() {
    assertThatThrownBy(() -> CliRun.serve(Map.of(), "--heartbeat", "soon"))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("--heartbeat")
        .hasMessageContaining("'soon' is not a duration");
  }

  @Test
  void badEnvironmentValueIsRefusedToo() {
    assertThatThrownBy(() -> CliRun.serve(Map.of("HERALD_MAX_EVENT_BYTES", "huge")))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("--max-event-bytes")
        .hasMessageContaining("'huge' is not a size");
    assertThatThrownBy(() -> CliRun.serve(Map.of("HERALD_FSYNC", "yes")))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("--fsync");
  }

  @Test
  void variableNamesAreUpperSnakeWithPrefix() {
    assertThat(EnvDefaults.variable("--max-connections-per-ip"))
        .isEqualTo("HERALD_MAX_CONNECTIONS_PER_IP");
  }

  @Test
  void unknownStoreIsRefusedWithTheFormsAccepted() {
    ServeCommand serve = CliRun.serve(Map.of(), "--store", "postgres://x");
    assertThatThrownBy(serve::hub)
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("memory, sqlite:<path>");
  }

  @Test
  void consoleIsOnByDefaultAndFalseFromTheFlagOrTheEnvironmentTurnsItOff() throws Exception {
    assertThat(CliRun.serve(Map.of()).console).isTrue();
    assertThat(CliRun.serve(Map.of("HERALD_CONSOLE", "false")).console).isFalse();
    assertThat(CliRun.serve(Map.of(), "--console", "false").console).isFalse();
    assertThat(CliRun.serve(Map.of("HERALD_CONSOLE", "false"), "--console").console).isTrue();

    for (boolean on : new boolean[] {true, false}) {
      ServeCommand serve =
          CliRun.serve(
              Map.of(), "--store", "memory", "--port", "0", "--console", String.valueOf(on));
      try (Hub hub = serve.hub().start()) {
        java.net.http.HttpResponse<String> root =
            java.net.http.HttpClient.newHttpClient()
                .send(
                    java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(
                                "http://127.0.0.1:" + hub.address().getPort() + "/"))
                        .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(root.statusCode()).isEqualTo(on ? 200 : 404);
        assertThat(serve.banner(hub.address()))
            .contains(
                on
                    ? "console:   http://127.0.0.1:" + hub.address().getPort() + "/"
                    : "console:   off");
      }
    }
  }
}
