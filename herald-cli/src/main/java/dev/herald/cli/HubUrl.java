package dev.herald.cli;

import java.net.URI;
import java.util.Locale;
import picocli.CommandLine;

/**
 * The hub's base URL that {@code publish} and {@code listen} share: {@code --url}, or {@code
 * HERALD_URL} from the environment, or {@value #DEFAULT}; set it once to point every command at
 * another hub.
 */
final class HubUrl {
  /** Where the hub is unless {@code --url} or {@code HERALD_URL} says otherwise. */
  static final String DEFAULT = "http://127.0.0.1:8080";

  private HubUrl() {}

  /**
   * {@code target} (a path, with its query) under the base URL {@code base}: {@code
   * http://host:8080/herald} and {@code /events} give {@code http://host:8080/herald/events}.
   *
   * @throws CommandLine.ParameterException naming {@code --url} and {@code HERALD_URL} if the
   *     result is not an absolute http or https URL
   */
  static URI resolve(CommandLine command, String base, String target) {
    String trimmed = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    URI uri;
    try {
      uri = URI.create(trimmed + (target.startsWith("/") ? "" : "/") + target);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(
          command, "--url (or HERALD_URL) '" + base + "' is not a URL: " + e.getMessage());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
      throw new CommandLine.ParameterException(
          command,
          "--url (or HERALD_URL) '" + base + "' is not an http or https URL such as " + DEFAULT);
    }
    return uri;
  }
}
