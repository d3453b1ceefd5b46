package dev.herald.sqlite;

import java.time.Clock;
import java.time.Duration;

/**
 * Retention by age, in the clock's milliseconds: an event is past its age, and counts as dropped,
 * from the moment its age reaches the maximum, that is when {@code created_ms <= cutoff()} (as in
 * the memory log).
 */
final class AgeLimit {
  private final Clock clock;
  private final long maxAgeMillis;

  AgeLimit(Clock clock, Duration maxAge) {
    this.clock = clock;
    long millis;
    try {
      millis = maxAge.toMillis();
    } catch (ArithmeticException e) {
      millis = Long.MAX_VALUE;
    }
    this.maxAgeMillis = millis;
  }

  /** Events created at or before this are past their age now. */
  long cutoff() {
    long now = clock.millis();
    long cutoff = now - maxAgeMillis;
    // Saturate instead of wrapping for ages beyond any clock.
    return ((now ^ maxAgeMillis) & (now ^ cutoff)) < 0 ? Long.MIN_VALUE : cutoff;
  }
}
