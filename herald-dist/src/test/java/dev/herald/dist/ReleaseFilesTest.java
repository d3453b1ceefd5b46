package dev.herald.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release files, built by the same {@code src/main/dist/build.sh} that {@code ./mvnw -Prelease
 * package} runs: the tarball's layout, and the {@code .deb} installed on this machine with {@code
 * dpkg -i}, its {@code herald serve} started on a free port with a fresh data directory, one event
 * published and read back, the hub stopped, the package purged.
 *
 * <p>Installing needs root and dpkg (CI has both): without them the install test fails when {@code
 * CI} is {@code true} and is skipped elsewhere.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReleaseFilesTest {
  private static final String VERSION = System.getProperty("herald.version");

  @TempDir static Path out;

  private static Path tarball;
  private static Path deb;

  @BeforeAll
  static void buildTheReleaseFiles() throws Exception {
    Path jar = Path.of(System.getProperty("herald.dist.jar"));
    assertThat(jar).as("herald-cli's jar, built before this module").isRegularFile();
    Run build =
        run(
            List.of(
                "bash",
                System.getProperty("herald.dist.script"),
                VERSION,
                jar.toString(),
                System.getProperty("herald.dist.readme"),
                System.getProperty("herald.dist.license"),
                out.toString()),
            60);
    assertThat(build.exit()).as(build.output()).isZero();
    tarball = out.resolve("herald-" + VERSION + ".tar.gz");
    deb = out.resolve("herald_" + VERSION.replace('-', '~') + "_all.deb");
    assertThat(build.output().lines()).containsExactly(tarball.toString(), deb.toString());
  }

  private record Run(int exit, String output) {}

  private static Run run(List<String> command, int seconds) throws Exception {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    try (InputStream in = process.getInputStream()) {
      byte[] output = in.readAllBytes(); // ends when the process does
      assertThat(process.waitFor(seconds, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
      return new Run(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    } finally {
      process.destroyForcibly();
    }
  }

  /** The default JVM options a launcher script gives {@code java}. */
  private static String javaOptions(String script) {
    Matcher m = Pattern.compile("\"\\$\\{HERALD_JAVA_OPTS-([^}]*)\\}\"").matcher(script);
    assertThat(m.find()).as("HERALD_JAVA_OPTS default in:\n%s", script).isTrue();
    return m.group(1);
  }

  @Test
  void theTarballHoldsTheJarTheLauncherTheReadmeTheLicenseAndASystemdUnit() throws Exception {
    Run list = run(List.of("tar", "tzvf", tarball.toString()), 30);
    assertThat(list.exit()).as(list.output()).isZero();
    String top = "herald-" + VERSION + "/";
    assertThat(list.output())
        .containsPattern(
            "-rwxr-xr-x \\S+ +\\d+ \\S+ \\S+ " + Pattern.quote(top + "bin/herald") + "\n")
        .contains(top + "lib/herald.jar")
        .contains(top + "README.md")
        .contains(top + "LICENSE")
        .contains(top + "systemd/herald.service")
        .contains(top + "systemd/herald.env");

    Path unpacked = Files.createDirectories(out.resolve("unpacked"));
    assertThat(run(List.of("tar", "xzf", tarball.toString(), "-C", unpacked.toString()), 30).exit())
        .isZero();
    Path home = unpacked.resolve("herald-" + VERSION);
    String launcher = Files.readString(home.resolve("bin/herald"));
    // The same JVM options as ./herald in a checkout.
    String checkout =
        Files.readString(
            Path.of(System.getProperty("herald.dist.readme")).resolveSibling("herald"));
    assertThat(javaOptions(launcher))
        .isEqualTo(javaOptions(checkout))
        .isEqualTo("-Xmn24m -XX:+UseParallelGC");
    assertThat(Files.readString(home.resolve("LICENSE")))
        .contains("Apache License")
        .contains("Version 2.0, January 2004");
    assertThat(Files.readString(home.resolve("systemd/herald.service")))
        .contains(
            "ExecStart=/opt/herald/bin/herald serve --store sqlite:/var/lib/herald/events.db");

    Run version = run(List.of(home.resolve("bin/herald").toString(), "--version"), 30);
    assertThat(version.exit()).as(version.output()).isZero();
    assertThat(version.output()).contains(VERSION);
  }

  private static void requireRootAndDpkg() throws Exception {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean dpkg = Files.isExecutable(Path.of("/usr/bin/dpkg"));
    if (root && dpkg) {
      return;
    }
    String message = "installing the .deb needs root and dpkg (CI runs as root on Debian)";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      Assertions.fail(message);
    }
    Assumptions.abort(message);
  }

  @Test
  void theDebInstallsAndItsHeraldServesPublishesAndReadsBackAnEvent(@TempDir Path data)
      throws Exception {
    requireRootAndDpkg();
    Run before = run(List.of("dpkg-query", "-W", "-f=${Status}", "herald"), 30);
    assertThat(before.output())
        .as("a herald package is installed already: this test would replace and remove it")
        .doesNotContain("install ok installed");

    Run install = run(List.of("dpkg", "-i", deb.toString()), 60);
    try {
      assertThat(install.exit()).as(install.output()).isZero();
      assertThat(Path.of("/usr/bin/herald")).isExecutable();
      assertThat(Path.of("/lib/systemd/system/herald.service")).isRegularFile();
      assertThat(Files.readString(Path.of("/lib/systemd/system/herald.service")))
          .contains("ExecStart=/usr/bin/herald serve --store sqlite:/var/lib/herald/events.db");
      assertThat(run(List.of("dpkg-query", "-W", "-f=${Version}", "herald"), 30).output())
          .isEqualTo(VERSION.replace('-', '~'));
      servesPublishesAndReadsBack(data);
    } finally {
      // --purge: the conffile /etc/default/herald goes too, nothing is left behind.
      Run remove = run(List.of("dpkg", "--purge", "herald"), 60);
      assertThat(remove.exit()).as(remove.output()).isZero();
    }
    assertThat(Path.of("/usr/bin/herald")).doesNotExist();
    assertThat(Path.of("/usr/share/herald")).doesNotExist();
    assertThat(Path.of("/etc/default/herald")).doesNotExist();
  }

  private static void servesPublishesAndReadsBack(Path data) throws Exception {
    Path db = data.resolve("events.db");
    Process serve =
        new ProcessBuilder("/usr/bin/herald", "serve", "--port", "0", "--store", "sqlite:" + db)
            .redirectError(data.resolve("serve-stderr.txt").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    try {
      BufferedReader banner =
          new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8));
      String first = banner.readLine();
      assertThat(first)
          .as("banner; stderr: %s", Files.readString(data.resolve("serve-stderr.txt")))
          .startsWith("Herald hub listening on http://127.0.0.1:");
      String base = first.substring("Herald hub listening on ".length());

      Run publish =
          run(
              List.of(
                  "/usr/bin/herald",
                  "publish",
                  "--url",
                  base,
                  "--topic",
                  "installed",
                  "--type",
                  "hello",
                  "--data",
                  "{\"from\": \"the deb\"}"),
              60);
      assertThat(publish.exit()).as(publish.output()).isZero();
      String id = publish.output().strip();
      assertThat(id).matches("\\d+");

      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<InputStream> stream =
          client.send(
              HttpRequest.newBuilder(URI.create(base + "/events?topic=installed"))
                  .header("Last-Event-ID", "earliest")
                  .build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertThat(stream.statusCode()).isEqualTo(200);
      List<String> lines = new ArrayList<>();
      try (BufferedReader events =
          new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = events.readLine()) != null && !line.startsWith("data:")) {
          lines.add(line);
        }
        lines.add(line);
      }
      assertThat(lines).contains("id: " + id, "event: hello", "data: {\"from\":\"the deb\"}");
      assertThat(db).isRegularFile();
      assertThat(
              client
                  .send(
                      HttpRequest.newBuilder(URI.create(base + "/")).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .as("the console")
          .isEqualTo(200);

      serve.destroy(); // SIGTERM: a graceful stop
      assertThat(serve.waitFor(20, TimeUnit.SECONDS)).as("herald serve stopped").isTrue();
      assertThat(serve.exitValue()).isZero();
    } finally {
      serve.destroyForcibly();
      serve.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
