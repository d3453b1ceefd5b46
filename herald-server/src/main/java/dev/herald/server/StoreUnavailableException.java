package dev.herald.server;

/**
 * Thrown (or completes a publish exceptionally) when the event log cannot be reached or cannot
 * store: nothing was published. The hub answers 503 {@code store_unavailable}.
 */
public final class StoreUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with the underlying cause. */
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Creates the exception. */
  public StoreUnavailableException(String message) {
    super(message);
  }
}
