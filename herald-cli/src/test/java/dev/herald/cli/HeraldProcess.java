package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code herald} command as a child process: this JVM's java, the test class path. */
final class HeraldProcess {
  private HeraldProcess() {}

  /** The command line that runs {@code herald args...}. */
  static List<String> command(String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Herald.class.getName());
    command.addAll(List.of(args));
    return command;
  }

  /**
   * A running {@code herald serve}: the process, its banner (stdout) and the URL the banner names.
   */
  record Serving(Process process, BufferedReader banner, String url) {}

  /**
   * Starts {@code herald args...} (a {@code serve} with {@code --port 0}), its stderr in {@code
   * dir/serve-stderr.txt}, and returns once the banner's first line names the address it listens
   * on; the caller destroys the process.
   */
  static Serving serve(Path dir, String... args) throws IOException {
    Path stderr = dir.resolve("serve-stderr.txt");
    Process process =
        new ProcessBuilder(command(args))
            .redirectError(stderr.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    BufferedReader banner =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String first = banner.readLine();
    assertThat(first)
        .as("banner; stderr: %s", Files.readString(stderr))
        .startsWith("Herald hub listening on http://127.0.0.1:");
    Matcher port = Pattern.compile(":(\\d+)$").matcher(first);
    assertThat(port.find()).isTrue();
    return new Serving(process, banner, "http://127.0.0.1:" + port.group(1));
  }

  /**
   * Writes an executable {@code herald} script into {@code dir} that runs the command as {@code
   * ./herald} does from a checkout, so documented command lines run as written with {@code dir} as
   * the working directory.
   */
  static Path script(Path dir) {
    StringBuilder line = new StringBuilder("exec");
    for (String part : command()) {
      line.append(" '").append(part.replace("'", "'\\''")).append('\'');
    }
    Path script = dir.resolve("herald");
    try {
      Files.writeString(script, "#!/usr/bin/env bash\n" + line + " \"$@\"\n");
      Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return script;
  }
}
