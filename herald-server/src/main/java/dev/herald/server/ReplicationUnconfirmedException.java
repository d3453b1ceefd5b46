package dev.herald.server;

/**
 * Completes an append (and so a publish) exceptionally when the store did store the events on its
 * primary but fewer of its replicas than required confirmed them in time (Redis with {@code
 * minReplicas}): the events are published (subscribers may already have them) but may be lost if
 * the primary fails before they reach a replica. Retrying with the same {@link IdempotencyKey}
 * stores them at most once and asks the replicas again. The hub answers 503 {@code
 * replication_unconfirmed}.
 */
public final class ReplicationUnconfirmedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int confirmed;
  private final int required;

  /**
   * Creates the exception.
   *
   * @param confirmed how many replicas confirmed before the timeout
   * @param required how many were required
   */
  public ReplicationUnconfirmedException(String message, int confirmed, int required) {
    super(message);
    this.confirmed = confirmed;
    this.required = required;
  }

  /** How many replicas confirmed the events before the timeout. */
  public int confirmed() {
    return confirmed;
  }

  /** How many replicas had to confirm them. */
  public int required() {
    return required;
  }
}
