package dev.herald.core;

/** Renders strings with control and non-ASCII characters visible, for failure messages. */
final class Escape {
  private Escape() {}

  static String of(String s) {
    StringBuilder b = new StringBuilder("\"");
    int shown = Math.min(s.length(), 200);
    for (int i = 0; i < shown; i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20 || c >= 0x7F) {
            b.append(String.format("\\u%04X", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    if (shown < s.length()) {
      b.append("...(").append(s.length()).append(" chars)");
    }
    return b.append('"').toString();
  }
}
