package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.hub.Hub;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's command blocks run as written, by bash with {@code ./herald} and curl, against a hub
 * on a free port that {@code HERALD_URL} names: the documented commands work, and work for a hub on
 * another port once {@code HERALD_URL} is set.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadmeCommandsTest {
  /** Surefire runs in the module's directory; the README is the repository's. */
  private static final Path README = Path.of("..", "README.md");

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private record Run(int exit, List<String> out, String err) {}

  /** The first {@code ```bash} block of the README that contains {@code marker}. */
  private static String bashBlock(String marker) throws Exception {
    String readme = Files.readString(README, StandardCharsets.UTF_8);
    Matcher block = Pattern.compile("```bash\n(.*?)```", Pattern.DOTALL).matcher(readme);
    while (block.find()) {
      if (block.group(1).contains(marker)) {
        return block.group(1);
      }
    }
    throw new AssertionError("README.md has no bash block with " + marker);
  }

  /** Runs {@code script} with bash in a directory where {@code ./herald} is this build's herald. */
  private Run bash(String script, Map<String, String> env) throws Exception {
    HeraldProcess.script(dir);
    ProcessBuilder builder =
        new ProcessBuilder("bash", "-c", "set -euo pipefail\n" + script)
            .directory(dir.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(dir.resolve("stdout.txt").toFile())
            .redirectError(dir.resolve("stderr.txt").toFile());
    builder.environment().putAll(env);
    Process process = builder.start();
    try {
      assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("script finished").isTrue();
    } finally {
      process.destroyForcibly();
    }
    return new Run(
        process.exitValue(),
        Files.readAllLines(dir.resolve("stdout.txt"), StandardCharsets.UTF_8),
        Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8));
  }

  private static boolean onPath(String program) {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(entry, program))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void quickStartCommandsWorkForAHubOnAnotherPortNamedOnceByHeraldUrl() throws Exception {
    assumeTrue(onPath("curl"), "the quick start uses curl");
    String block = bashBlock("./herald listen --max-events 2");
    // The hub is the test's own; "curl -N" streams until stopped (the listen line reads the same).
    List<String> skipped =
        block
            .lines()
            .filter(l -> l.startsWith("./herald serve") || l.startsWith("curl -N"))
            .toList();
    assertThat(skipped).hasSize(2);
    String script =
        block.lines().filter(l -> !skipped.contains(l)).collect(Collectors.joining("\n"));

    try (Hub hub = Hub.builder().port(0).build().start()) {
      String url = "http://127.0.0.1:" + hub.address().getPort();
      Run run = bash(script, Map.of("HERALD_URL", url));

      assertThat(run.exit()).as(run.err()).isZero();
      List<String> printed = run.out().subList(run.out().size() - 2, run.out().size());
      JsonNode first = JSON.readTree(printed.get(0));
      JsonNode second = JSON.readTree(printed.get(1));
      assertThat(first.get("type").asText()).isEqualTo("headline");
      assertThat(first.get("data").asText()).isEqualTo("{\"title\":\"Herald ships\"}");
      assertThat(second.get("data").asText()).isEqualTo("{\"title\":\"again\"}");
      assertThat(run.err()).contains("herald listen: connected to " + url + "/events?topic=news");
    }
  }

  @Test
  void theTokenExampleMayPublishAndSubscribeToTheQuickStartsTopic() throws Exception {
    String block = bashBlock("./herald token");
    String secret = "readme-test-secret-" + "x".repeat(32);

    try (Hub hub = Hub.builder().port(0).jwtSecret(secret).build().start()) {
      String url = "http://127.0.0.1:" + hub.address().getPort();
      Run run = bash(block, Map.of("HERALD_URL", url, "HERALD_JWT_SECRET", secret));

      assertThat(run.exit()).as(run.err()).isZero();
      JsonNode event = JSON.readTree(run.out().get(run.out().size() - 1));
      assertThat(event.get("data").asText()).isEqualTo("signed");
      assertThat(event.get("id").asText()).isEqualTo(run.out().get(0));
    }
  }
}
