package dev.herald.client;

import java.time.Duration;

/** Reconnection delays: exponential backoff with jitter, capped, never below the base. */
final class Backoff {
  /** No delay is longer than this, whatever a server's {@code retry:} or a policy says. */
  static final Duration MAX_DELAY = Duration.ofDays(1);

  private Backoff() {}

  /**
   * Returns the delay before the reconnection that follows {@code failures} consecutive failures (0
   * for the first): {@code base * 2^failures}, capped at {@code max(cap, base)}, then jittered to a
   * uniformly random point of its upper half, but never below {@code base}.
   *
   * <p>So the first reconnection waits exactly the reconnection time, as the standard says, and a
   * server's {@code retry:} above the cap is still honoured; later ones spread out, so a fleet of
   * clients does not come back in lockstep.
   *
   * @param random a number in [0, 1)
   */
  static Duration delay(Duration base, Duration cap, int failures, double random) {
    long baseMillis = clamp(base).toMillis();
    long capMillis = Math.max(clamp(cap).toMillis(), baseMillis);
    long delay = baseMillis;
    for (int i = 0; i < failures && delay < capMillis; i++) {
      delay *= 2; // No overflow: delay <= MAX_DELAY before doubling.
    }
    delay = Math.min(delay, capMillis);
    long jittered = delay / 2 + (long) (random * (delay - delay / 2));
    return Duration.ofMillis(Math.max(baseMillis, jittered));
  }

  /** Returns {@code delay} within [0, {@link #MAX_DELAY}]. */
  static Duration clamp(Duration delay) {
    if (delay.isNegative()) {
      return Duration.ZERO;
    }
    return delay.compareTo(MAX_DELAY) > 0 ? MAX_DELAY : delay;
  }
}
