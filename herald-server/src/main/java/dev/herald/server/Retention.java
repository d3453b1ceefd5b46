package dev.herald.server;

import dev.herald.core.internal.Checks;
import java.time.Duration;

/**
 * How much history each topic keeps: at most {@code maxCount} events and none older than {@code
 * maxAge}. An event past its age counts as dropped at once, whether or not it is deleted yet.
 *
 * @param maxCount the most events kept per topic, at least 1
 * @param maxAge the age after which an event is dropped, positive
 */
public record Retention(int maxCount, Duration maxAge) {
  /** 1000 events and 24 hours per topic. */
  public static final Retention DEFAULT = new Retention(1000, Duration.ofHours(24));

  /** Checks both limits. */
  public Retention {
    if (maxCount < 1) {
      throw new IllegalArgumentException("maxCount must be at least 1: " + maxCount);
    }
    Checks.positive("maxAge", maxAge);
  }
}
