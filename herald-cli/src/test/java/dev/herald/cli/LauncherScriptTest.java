package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository's {@code ./herald} launcher, copied into a scratch checkout whose {@code ./mvnw}
 * stands in for the real build (a real one takes minutes): it prints what Maven prints, nothing but
 * errors under {@code -q} as Maven does, and leaves a runnable herald.jar (this build's classes
 * through its manifest's class path). The launcher must show progress while it builds, and the
 * errors when the build fails.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LauncherScriptTest {
  /** Surefire runs in the module's directory; the launcher is at the repository's root. */
  private static final Path LAUNCHER = Path.of("..", "herald");

  private static final String FAKE_MAVEN =
      """
      #!/usr/bin/env bash
      printf '%s\\n' "$@" > "$(dirname "$0")/mvnw-args.txt"
      quiet=false
      for arg in "$@"; do [[ "$arg" == -q || "$arg" == --quiet ]] && quiet=true; done
      say() { $quiet || printf '%s\\n' "$1"; }
      say '[INFO] Scanning for projects...'
      say '[INFO] Building Herald core 0.1.0-SNAPSHOT                                      [1/2]'
      say '[INFO]   from herald-core/pom.xml'
      if [[ -n "${FAKE_BUILD_FAILS:-}" ]]; then
        echo '[ERROR] Failed to execute goal compile: Compilation failure: Broken.java:[3,1] oops'
        exit 1
      fi
      say '[INFO] Building Herald CLI 0.1.0-SNAPSHOT                                       [2/2]'
      mkdir -p "$(dirname "$0")/herald-cli/target"
      cp "$(dirname "$0")/prepared.jar" "$(dirname "$0")/herald-cli/target/herald.jar"
      say '[INFO] BUILD SUCCESS'
      """;

  @TempDir Path root;

  @BeforeEach
  void checkout() throws Exception {
    Files.copy(LAUNCHER, root.resolve("herald"), StandardCopyOption.COPY_ATTRIBUTES);
    Files.writeString(root.resolve("mvnw"), FAKE_MAVEN);
    Files.setPosixFilePermissions(
        root.resolve("mvnw"), PosixFilePermissions.fromString("rwx------"));
    Files.writeString(root.resolve("pom.xml"), "<project/>");
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, Herald.class.getName());
    List<String> classPath = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      classPath.add(Path.of(entry).toUri().toString());
    }
    manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, String.join(" ", classPath));
    try (OutputStream out = Files.newOutputStream(root.resolve("prepared.jar"));
        JarOutputStream jar = new JarOutputStream(out, manifest)) {
      jar.flush();
    }
  }

  private record Run(int exit, String out, String err) {}

  private Run launch(boolean buildFails, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("bash", root.resolve("herald").toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectOutput(root.resolve("stdout.txt").toFile())
            .redirectError(root.resolve("stderr.txt").toFile());
    builder.environment().put("HERALD_JAVA_OPTS", "");
    builder.environment().put("TMPDIR", root.toString());
    if (buildFails) {
      builder.environment().put("FAKE_BUILD_FAILS", "1");
    }
    Process process = builder.start();
    try {
      assertThat(process.waitFor(45, TimeUnit.SECONDS)).as("launcher finished").isTrue();
    } finally {
      process.destroyForcibly();
    }
    return new Run(
        process.exitValue(),
        Files.readString(root.resolve("stdout.txt"), StandardCharsets.UTF_8),
        Files.readString(root.resolve("stderr.txt"), StandardCharsets.UTF_8));
  }

  @Test
  void showsOneLinePerModuleWhileBuildingThenRunsTheCommand() throws Exception {
    Run run = launch(false, "--version");

    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(run.out()).isEqualTo("herald " + Herald.Version.version() + "\n");
    assertThat(run.err().lines())
        .contains(
            "herald:   [1/2] Herald core",
            "herald:   [2/2] Herald CLI",
            "herald: built " + root.resolve("herald-cli/target/herald.jar"));
    assertThat(Files.readAllLines(root.resolve("mvnw-args.txt"))).doesNotContain("-q");
  }

  @Test
  void aFailedBuildShowsMavensErrorsAndKeepsItsLog() throws Exception {
    Run run = launch(true, "--version");

    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains("herald:   [1/2] Herald core")
        .contains("[ERROR] Failed to execute goal compile: Compilation failure: Broken.java")
        .contains("herald: the build failed (exit 1); Maven's whole output: ");
    try (var logs = Files.list(root)) {
      assertThat(logs.filter(p -> p.getFileName().toString().startsWith("herald-build.")))
          .singleElement()
          .satisfies(log -> assertThat(Files.readString(log)).contains("Scanning for projects"));
    }
  }
}
