package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.ScriptedResponse;
import dev.herald.client.testing.ScriptedServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code herald listen} as a real process with stdout on a pipe: each event arrives as soon as it
 * is dispatched, stdout holds nothing but JSON lines, and the exit status tells how it ended.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ListenProcessTest {
  @TempDir Path dir;

  private Process start(String... args) throws Exception {
    List<String> command = new ArrayList<>(HeraldProcess.command("listen"));
    command.addAll(List.of(args));
    return new ProcessBuilder(command)
        .redirectError(dir.resolve("stderr.txt").toFile())
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
        .start();
  }

  private String stderr() throws Exception {
    return Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8);
  }

  @Test
  void eachEventReachesThePipeAtOnceAndStdoutHoldsOnlyJsonLines() throws Exception {
    CountDownLatch firstSeen = new CountDownLatch(1);
    try (ScriptedServer server = ScriptedServer.start()) {
      server.enqueue(
          ScriptedResponse.eventStream()
              .send(": hello\n\nid: 1\nevent: greeting\ndata: h\u00e9llo\n\n")
              .await(firstSeen)
              .send("data: second\ndata: line\n\n")
              .stall());
      Process process = start("--max-events", "2", server.uri("/events").toString());
      try {
        BufferedReader out =
            new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        // The server holds the second event back until the first line has come through the pipe:
        // without a flush per line this would wait forever (bounded by the timeout).
        String first = CompletableFuture.supplyAsync(() -> readLine(out)).get(20, TimeUnit.SECONDS);
        assertThat(first)
            .isEqualTo("{\"type\":\"greeting\",\"data\":\"h\\u00E9llo\",\"id\":\"1\"}");
        firstSeen.countDown();
        String rest = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
        assertThat(process.exitValue()).isZero();
        assertThat(rest)
            .isEqualTo("{\"type\":\"message\",\"data\":\"second\\nline\",\"id\":\"1\"}\n");
      } finally {
        process.destroyForcibly();
      }
    }
  }

  @Test
  void notFoundExitsNonZeroWithNothingOnStdout() throws Exception {
    try (ScriptedServer server = ScriptedServer.start()) {
      server.enqueue(ScriptedResponse.status(404).body("no such topic"));
      Process process = start(server.uri("/events").toString());
      try {
        byte[] stdout = process.getInputStream().readAllBytes();

        assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
        assertThat(process.exitValue()).isEqualTo(ListenCommand.REFUSED);
        assertThat(stdout).isEmpty();
        assertThat(stderr()).contains("herald listen:", "answered 404", "no such topic");
      } finally {
        process.destroyForcibly();
      }
    }
  }

  @Test
  void eachFailureIsPrintedOnceInOneNumberFormatAndEachOpenStreamOnce() throws Exception {
    try (ScriptedServer server = ScriptedServer.start()) {
      // 1000 ms: a number a log formatter would group as "1,000".
      server.enqueue(ScriptedResponse.status(503).header("Retry-After", "1").body("busy"));
      server.enqueue(ScriptedResponse.eventStream().send("id: 5\ndata: back\n\n").stall());
      String url = server.uri("/events").toString();
      Process process = start("--max-events", "1", url);
      try {
        String stdout = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
        assertThat(process.exitValue()).isZero();
        assertThat(stdout).isEqualTo("{\"type\":\"message\",\"data\":\"back\",\"id\":\"5\"}\n");
        assertThat(stderr().lines())
            .containsExactly(
                "herald listen: GET " + url + " answered 503: busy; reconnecting in 1000 ms",
                "herald listen: connected to " + url);
      } finally {
        process.destroyForcibly();
      }
    }
  }

  private static String readLine(BufferedReader reader) {
    try {
      return reader.readLine();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
