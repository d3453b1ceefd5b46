package dev.herald.core;

/**
 * Thrown by {@link SseParser} when a stream exceeds a configured limit. The stream cannot be parsed
 * further: the connection should be dropped.
 */
public final class SseLimitExceededException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String limit;
  private final long max;

  /** Creates the exception for the named limit and its configured maximum. */
  public SseLimitExceededException(String limit, long max, String what) {
    super(what + " exceeds " + limit + " (" + max + " bytes)");
    this.limit = limit;
    this.max = max;
  }

  /** The name of the exceeded limit: {@code maxLineBytes} or {@code maxEventBytes}. */
  public String limit() {
    return limit;
  }

  /** The configured maximum, in bytes. */
  public long max() {
    return max;
  }
}
