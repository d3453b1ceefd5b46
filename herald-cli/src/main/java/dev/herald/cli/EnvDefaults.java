package dev.herald.cli;

import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Reads a flag's default from the environment: {@code --max-event-bytes} from {@code
 * HERALD_MAX_EVENT_BYTES}. A flag on the command line beats its variable; the variable beats the
 * built-in default, which comes from the libraries' constants where the command names them ({@link
 * ServeDefaults}). Values are converted and checked like the flag itself (booleans must be {@code
 * true} or {@code false}).
 */
final class EnvDefaults implements CommandLine.IDefaultValueProvider {
  private final Map<String, String> env;
  private final Set<String> only;
  private final Map<String, String> builtIn;

  /** Reads every flag's variable; a flag without one has its default from {@code builtIn}. */
  EnvDefaults(Map<String, String> env, Map<String, String> builtIn) {
    this(env, Set.of(), builtIn);
  }

  private EnvDefaults(Map<String, String> env, Set<String> only, Map<String, String> builtIn) {
    this.env = Map.copyOf(env);
    this.only = only;
    this.builtIn = builtIn;
  }

  /**
   * Reads the variables of these flags only ({@code --url}: {@code HERALD_URL}), for commands whose
   * other flags must not be set by a stray variable.
   */
  static EnvDefaults only(Map<String, String> env, String... longNames) {
    return new EnvDefaults(env, Set.of(longNames), Map.of());
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
    if (!only.isEmpty() && !only.contains(option.longestName())) {
      return null;
    }
    String value = env.get(variable(option.longestName()));
    return value != null ? value : builtIn.get(option.longestName());
  }
}
