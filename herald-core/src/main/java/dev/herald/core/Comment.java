package dev.herald.core;

import java.util.Objects;

/**
 * A comment line (or lines) in an event stream: ignored by every EventSource, which makes it the
 * tool for keep-alive heartbeats and for flushing headers at stream start.
 *
 * <p>Comment text is written after the colon exactly as given (no space is added), so what {@link
 * SseParser} reports for a comment is exactly what was encoded. Text with line breaks becomes one
 * comment line per line.
 *
 * @param text the comment text; may be empty
 */
public record Comment(String text) {
  /** The empty comment, {@code ":\n"}: the smallest heartbeat. */
  public static final Comment EMPTY = new Comment("");

  /** Checks the text is present. */
  public Comment {
    Objects.requireNonNull(text, "text");
  }
}
