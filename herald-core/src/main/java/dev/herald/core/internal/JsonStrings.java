package dev.herald.core.internal;

/**
 * JSON string literals for the few fixed-shape JSON texts the libraries write themselves (a {@code
 * reset} event's data, an error body), so that they need no JSON library. Not API: for Herald's own
 * modules.
 */
public final class JsonStrings {
  private JsonStrings() {}

  /** {@code s} as a JSON string literal, quotes included. */
  public static String quote(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
