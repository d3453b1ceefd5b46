package dev.herald.server;

/**
 * Completes an append (and so a publish) exceptionally when the store's answer was lost (a timeout,
 * a dropped connection) and the log could not find out in time whether it stored the events: they
 * may be stored, and are then delivered like any other, or not. Unlike {@link
 * StoreUnavailableException} it does not mean that nothing was published. Retrying with the same
 * {@link IdempotencyKey} is safe: it stores the events at most once. The hub answers 503 {@code
 * outcome_unknown}.
 */
public final class PublishOutcomeUnknownException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with the underlying cause. */
  public PublishOutcomeUnknownException(String message, Throwable cause) {
    super(message, cause);
  }
}
