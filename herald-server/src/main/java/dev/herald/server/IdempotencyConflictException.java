package dev.herald.server;

/**
 * Completes an idempotent append exceptionally when its key was used, within the window, for a
 * different request: nothing was stored. The hub answers 422 {@code idempotency_key_conflict}.
 */
public final class IdempotencyConflictException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception. */
  public IdempotencyConflictException(String message) {
    super(message);
  }
}
