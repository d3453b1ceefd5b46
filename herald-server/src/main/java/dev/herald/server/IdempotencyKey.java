package dev.herald.server;

import java.time.Duration;
import java.util.Objects;

/**
 * Makes an append idempotent: a second append with the same {@code scope} and {@code key} within
 * {@code window} of the first stores nothing and answers the first one's ids; with a different
 * {@code fingerprint} it fails with {@link IdempotencyConflictException}. The check and the append
 * are one atomic step of the log, so two identical requests racing store the events once.
 *
 * @param scope who owns the key (for example the token's subject), so two publishers' keys never
 *     collide; empty when there is no owner
 * @param key the client's key: 1-255 visible ASCII characters
 * @param fingerprint a digest of the request the key was first used with
 * @param window how long the log remembers the key, counted from the first append
 */
public record IdempotencyKey(String scope, String key, String fingerprint, Duration window) {
  /** The longest key. */
  public static final int MAX_LENGTH = 255;

  /** Checks the parts. */
  public IdempotencyKey {
    Objects.requireNonNull(scope, "scope");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(fingerprint, "fingerprint");
    Objects.requireNonNull(window, "window");
    if (!isValid(key)) {
      throw new IllegalArgumentException("an idempotency key is 1-255 visible ASCII characters");
    }
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("the window must be positive: " + window);
    }
  }

  /** Whether {@code key} is 1-255 visible ASCII characters (U+0021-U+007E). */
  public static boolean isValid(String key) {
    if (key == null || key.isEmpty() || key.length() > MAX_LENGTH) {
      return false;
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        return false;
      }
    }
    return true;
  }
}
