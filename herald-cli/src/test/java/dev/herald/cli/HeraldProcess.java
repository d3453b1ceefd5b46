package dev.herald.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

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
