package dev.herald.spring.boot;

import java.util.Objects;

/**
 * A WebFlux event stream that could not be opened: {@link HeraldFlux} signals it, and the
 * auto-configured exception handler answers it with its status and the JSON body {@code {"error":
 * code, "message": ...}} the hub and the Servlet adapter use, for example 400 {@code topic_invalid}
 * or 503 {@code shutting_down}.
 */
public final class StreamRefusedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;

  /**
   * A refusal.
   *
   * @param status the HTTP status to answer
   * @param code the machine-readable error code
   * @param message what to fix, for a person
   */
  public StreamRefusedException(int status, String code, String message) {
    super(Objects.requireNonNull(message, "message"));
    this.status = status;
    this.code = Objects.requireNonNull(code, "code");
  }

  /** The HTTP status to answer. */
  public int status() {
    return status;
  }

  /** The error code, e.g. {@code topic_invalid}. */
  public String code() {
    return code;
  }
}
