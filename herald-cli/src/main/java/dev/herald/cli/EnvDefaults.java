package dev.herald.cli;

import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Reads a flag's default from the environment: {@code --max-event-bytes} from {@code
 * HERALD_MAX_EVENT_BYTES}. A flag on the command line beats its variable; the variable beats the
 * built-in default. Values are converted and checked like the flag itself (booleans must be {@code
 * true} or {@code false}).
 */
final class EnvDefaults implements CommandLine.IDefaultValueProvider {
  private final Map<String, String> env;

  EnvDefaults(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  /** The variable that stands for {@code option}, e.g. {@code HERALD_MAX_EVENT_BYTES}. */
  static String variable(String longName) {
    String name = longName.replaceFirst("^-+", "");
    return "HERALD_" + name.replace('-', '_').toUpperCase(Locale.ROOT);
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
      return null;
    }
    String value = env.get(variable(option.longestName()));
    if (value == null) {
      return null;
    }
    return value;
  }
}
