package dev.herald.hub.internal.http;

import java.util.regex.Pattern;

/**
 * Removes bearer tokens from text that may reach a log line, a metric or a response: the value of
 * every {@code access_token} query parameter, in plain or percent-encoded form, becomes {@code
 * REDACTED}. The hub logs paths without their query strings; this is the second line of defence for
 * text it does not control, such as a decoder's exception message that quotes the request.
 */
public final class Redaction {
  private static final Pattern QUERY_TOKEN =
      Pattern.compile("(?i)(access(?:_|%5f)token(?:=|%3d))[^&\\s'\"#]*");

  private Redaction() {}

  /** {@code text} with every query token's value replaced. */
  public static String redact(String text) {
    if (text == null) {
      return "";
    }
    // Every request's path passes here: without "access" there is nothing to redact, and the
    // matcher (and its garbage) is spared.
    return mentionsAccess(text) ? QUERY_TOKEN.matcher(text).replaceAll("$1REDACTED") : text;
  }

  /** Whether {@code text} contains "access" in any case: what every match starts with. */
  private static boolean mentionsAccess(String text) {
    for (int i = 0, last = text.length() - 6; i <= last; i++) {
      if (text.regionMatches(true, i, "access", 0, 6)) {
        return true;
      }
    }
    return false;
  }
}
