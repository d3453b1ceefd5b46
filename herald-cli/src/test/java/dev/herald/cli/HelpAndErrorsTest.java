package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** What {@code --help}, {@code --version} and a mistyped command line print. */
class HelpAndErrorsTest {
  private static final List<String> COMMANDS = List.of("serve", "publish", "listen", "token");

  @ParameterizedTest
  @CsvSource({
    "listen --bogus, herald listen: Unknown option: '--bogus'",
    "serve --port abc, herald serve: Invalid value for option '--port': 'abc' is not an int",
    "publish --topic, herald publish: Missing required parameter for option '--topic' (<topic>)",
    "token --ttl 1h, herald token: Missing required option: '--secret=<secret>'",
  })
  void aUsageErrorPrintsTheErrorAndOneLinePointingAtHelp(String args, String error) {
    CliRun run = CliRun.herald(Map.of(), args.split(" "));

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    String command = args.substring(0, args.indexOf(' '));
    assertThat(run.err().lines())
        .containsExactly(error, "Try 'herald " + command + " --help' for more information.");
  }

  @Test
  void aMistypedFlagAlsoGetsTheSuggestion() {
    CliRun run = CliRun.herald(Map.of(), "listen", "--max-event", "1", "http://127.0.0.1:1/events");

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).doesNotContain("Usage:").contains("--max-events");
    assertThat(run.err().lines()).hasSizeLessThanOrEqualTo(3);
    assertThat(run.err().lines().toList())
        .last()
        .isEqualTo("Try 'herald listen --help' for more information.");
  }

  @ParameterizedTest
  @ValueSource(strings = {"serve", "publish", "listen", "token", "contract-service"})
  void helpShowsTheDefaultOfEveryFlagThatHasOne(String command) {
    CliRun run = CliRun.herald(Map.of(), command, "--help");

    assertThat(run.exit()).isZero();
    CommandLine line = Herald.commandLine(Map.of()).getSubcommands().get(command);
    int checked = 0;
    for (OptionSpec option : line.getCommandSpec().options()) {
      boolean flag = option.arity().min() == 0 && option.typeInfo().isBoolean();
      if (option.defaultValue() == null || flag || option.isMultiValue()) {
        continue;
      }
      assertThat(run.out())
          .as(option.longestName())
          .containsPattern("Default: " + java.util.regex.Pattern.quote(option.defaultValue()));
      checked++;
    }
    assertThat(checked).as("flags with a default").isPositive();
  }

  /**
   * A description picocli cannot format (a lone {@code %}) is printed raw with a warning on the
   * process's standard error, outside the command's own writers: caught here.
   */
  @ParameterizedTest
  @ValueSource(strings = {"serve", "publish", "listen", "token", "contract-service"})
  void helpFormatsEveryDescriptionWithoutAWarning(String command) {
    java.io.PrintStream original = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    CliRun run;
    try {
      System.setErr(
          new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
      run = CliRun.herald(Map.of(), command, "--help");
    } finally {
      System.setErr(original);
    }
    assertThat(run.exit()).isZero();
    assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
        .as("what --help printed to the process's standard error")
        .isEmpty();
  }

  @Test
  void helpShowsAnEnvironmentDefaultButNeverTheJwtSecret() {
    String secret = "a-secret-of-at-least-thirty-two-bytes!";
    CliRun serve =
        CliRun.herald(
            Map.of("HERALD_PORT", "9191", "HERALD_JWT_SECRET", secret), "serve", "--help");
    CliRun publish =
        CliRun.herald(Map.of("HERALD_URL", "http://hub.example:9191"), "publish", "--help");

    assertThat(serve.out()).contains("Default: 9191").doesNotContain(secret);
    assertThat(publish.out()).contains("Default: http://hub.example:9191");
  }

  @Test
  void versionIsTheMavenProjectVersionForEveryCommand() {
    CliRun top = CliRun.herald(Map.of(), "--version");

    assertThat(top.exit()).isZero();
    assertThat(top.out().strip()).matches("herald \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
    for (String command : COMMANDS) {
      assertThat(CliRun.herald(Map.of(), command, "--version").out())
          .as(command)
          .isEqualTo(top.out());
    }
  }

  @Test
  void theContractServiceIsHiddenFromTheMainHelpButStillRuns() {
    CliRun help = CliRun.herald(Map.of(), "--help");
    CliRun service = CliRun.herald(Map.of(), "contract-service", "--help");

    assertThat(help.out()).contains("serve", "publish", "listen", "token");
    assertThat(help.out()).doesNotContain("contract");
    assertThat(service.exit()).isZero();
    assertThat(service.out()).contains("Usage: herald contract-service");
  }
}
