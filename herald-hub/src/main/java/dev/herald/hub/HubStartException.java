package dev.herald.hub;

/**
 * Thrown by {@link Hub#start()} when the hub cannot start: the store cannot be opened or is not
 * supported by this build, or the address cannot be bound. The message says what to change.
 */
public final class HubStartException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  HubStartException(String message, Throwable cause) {
    super(message, cause);
  }
}
