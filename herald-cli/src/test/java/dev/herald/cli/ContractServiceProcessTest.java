package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code herald contract-service} as a real process: announces its address, DELETE / exits 0. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ContractServiceProcessTest {
  private static final String BANNER = "Herald contract-test service listening on ";

  @Test
  void announcesItsAddressAnswersAndExitsZeroOnDeleteRoot() throws Exception {
    Process process =
        new ProcessBuilder(
                List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp",
                    System.getProperty("java.class.path"),
                    Herald.class.getName(),
                    "contract-service",
                    "--port",
                    "0"))
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String banner =
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return out.readLine();
                    } catch (java.io.IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  })
              .get(20, TimeUnit.SECONDS);
      assertThat(banner).startsWith(BANNER + "http://127.0.0.1:");
      URI base = URI.create(banner.substring(BANNER.length()));
      HttpClient http = HttpClient.newHttpClient();

      HttpResponse<String> status =
          http.send(
              HttpRequest.newBuilder(base.resolve("/")).timeout(Duration.ofSeconds(10)).build(),
              HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> stop =
          http.send(
              HttpRequest.newBuilder(base.resolve("/"))
                  .timeout(Duration.ofSeconds(10))
                  .DELETE()
                  .build(),
              HttpResponse.BodyHandlers.ofString());

      assertThat(status.statusCode()).isEqualTo(200);
      assertThat(status.body()).contains("\"capabilities\"", "\"event-type-listeners\"");
      assertThat(stop.statusCode()).isEqualTo(200);
      assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(process.exitValue()).isZero();
    } finally {
      process.destroyForcibly();
    }
  }
}
