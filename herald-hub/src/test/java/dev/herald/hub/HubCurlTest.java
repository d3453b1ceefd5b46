package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.herald.hub.testing.TestCertificates;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * curl (a child process, with its own HTTP/2 stack, nghttp2) against the hub: {@code --http2} over
 * TLS (ALPN) and {@code --http2-prior-knowledge} in clear, publishing and streaming.
 */
class HubCurlTest {
  private static final Path CURL = Path.of("/usr/bin/curl");

  @org.junit.jupiter.api.io.TempDir static Path dir;
  static TestCertificates.Pair cert;

  @BeforeAll
  static void certificate() throws Exception {
    cert = TestCertificates.selfSigned(dir, "curl", "EC");
  }

  private static void requireCurl() {
    boolean present = Files.isExecutable(CURL);
    if (!present && "true".equals(System.getenv("CI"))) {
      throw new AssertionError("curl is missing on CI: apt-get install curl");
    }
    assumeTrue(present, "curl is not installed");
  }

  private static List<String> curl(String mode, String... args) {
    List<String> command = new ArrayList<>(List.of(CURL.toString(), "-sS", "--max-time", "20"));
    if (mode.equals("tls")) {
      command.addAll(List.of("--http2", "--cacert", cert.cert().toString()));
    } else {
      command.add("--http2-prior-knowledge");
    }
    command.addAll(List.of(args));
    return command;
  }

  private static String run(List<String> command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
    return output;
  }

  @ParameterizedTest
  @ValueSource(strings = {"tls", "h2c"})
  void curlPublishesAndStreamsOverHttp2(String mode) throws Exception {
    requireCurl();
    Hub.Builder builder = Hub.builder();
    if (mode.equals("tls")) {
      builder.tls(cert.cert(), cert.key());
    }
    try (HubFixture f = new HubFixture(builder)) {
      String base =
          (mode.equals("tls") ? "https://localhost:" : "http://127.0.0.1:")
              + f.hub.address().getPort();
      Process stream =
          new ProcessBuilder(curl(mode, "-N", "-D", "-", base + "/events?topic=curl"))
              .redirectErrorStream(true)
              .start();
      List<String> lines = new CopyOnWriteArrayList<>();
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(stream.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = in.readLine()) != null) {
                    lines.add(line);
                  }
                } catch (java.io.IOException e) {
                  lines.add("read failed: " + e);
                }
              },
              "curl-reader");
      reader.setDaemon(true);
      reader.start();
      try {
        assertThat(await(lines, ":ok")).as("curl's stream opened").isTrue();
        String published =
            run(
                curl(
                    mode,
                    "-w",
                    "\\n%{http_version} %{http_code}",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    "{\"topic\": \"curl\", \"type\": \"greeting\", \"data\": \"over h2\"}",
                    base + "/events"));
        assertThat(published).endsWith("\n2 201");
        String id =
            HubFixture.json(published.substring(0, published.lastIndexOf('\n'))).get("id").asText();
        assertThat(await(lines, "id: " + id)).as("the event reached curl's stream").isTrue();
        assertThat(await(lines, "data: over h2")).isTrue();
        assertThat(lines).as("the stream's head").anyMatch(l -> l.startsWith("HTTP/2 200"));
      } finally {
        stream.destroy();
        assertThat(stream.waitFor(10, TimeUnit.SECONDS)).isTrue();
      }
      String missing = run(curl(mode, "-w", "\\n%{http_version} %{http_code}", base + "/nope"));
      assertThat(missing).contains("\"error\":\"not_found\"").endsWith("\n2 404");
    }
  }

  /** Waits up to 10 s for curl to have printed a line equal to {@code expected}. */
  private static boolean await(List<String> lines, String expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (lines.stream().anyMatch(line -> line.strip().equals(expected))) {
        return true;
      }
      Thread.sleep(20); // curl prints as it receives; bounded by the deadline
    }
    return false;
  }
}
