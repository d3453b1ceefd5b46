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

  /**
   * The conflict every store answers when {@code key} was used within its window for a different
   * request (another fingerprint): one message, whichever store found it.
   */
  public static IdempotencyConflictException forKey(IdempotencyKey key) {
    return new IdempotencyConflictException(
        "the idempotency key \""
            + key.key()
            + "\" was used for a different request within the last "
            + key.window()
            + "; use a new key for a new request");
  }
}
