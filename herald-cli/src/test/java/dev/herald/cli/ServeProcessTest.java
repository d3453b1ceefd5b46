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
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code herald serve} as a real process: banner, serving, SIGTERM → graceful exit 0. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ServeProcessTest {
  @Test
  void serveAnnouncesItselfServesAndExitsZeroOnSigterm() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder =
        new ProcessBuilder(
                List.of(
                    java.toString(),
                    "-cp",
                    System.getProperty("java.class.path"),
                    Herald.class.getName(),
                    "serve",
                    "--port",
                    "0",
                    "--heartbeat",
                    "1s"))
            .redirectError(ProcessBuilder.Redirect.DISCARD);
    builder.environment().put("HERALD_STORE", "memory");
    Process process = builder.start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String first = out.readLine();
      assertThat(first).startsWith("Herald hub listening on http://127.0.0.1:");
      StringBuilder banner = new StringBuilder(first);
      for (int i = 0; i < 5; i++) {
        banner.append('\n').append(out.readLine());
      }
      assertThat(banner).contains("store:     memory").contains("dev mode: anonymous");
      Matcher port = Pattern.compile(":(\\d+)$").matcher(first);
      assertThat(port.find()).isTrue();
      HttpResponse<String> health =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + port.group(1) + "/healthz"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);

      process.destroy(); // SIGTERM
      assertThat(process.waitFor(15, TimeUnit.SECONDS)).as("exited within 15 s").isTrue();
      assertThat(process.exitValue()).isZero();
    } finally {
      process.destroyForcibly();
    }
  }
}
