package dev.herald.core.internal;

import java.time.Duration;
import java.util.Objects;

/**
 * The argument checks of the builders, with one wording: {@code "maxBatchEvents must be positive:
 * 0"}. Not API: for Herald's own modules.
 */
public final class Checks {
  private Checks() {}

  /** {@code value}, if at least 1. */
  public static int positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
    return value;
  }

  /** {@code value}, if at least 1. */
  public static long positive(String name, long value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
    return value;
  }

  /** {@code value}, if longer than zero. */
  public static Duration positive(String name, Duration value) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
    return value;
  }

  /** {@code value}, if not below 0. */
  public static int notNegative(String name, int value) {
    if (value < 0) {
      throw new IllegalArgumentException(name + " must not be negative: " + value);
    }
    return value;
  }

  /** {@code value}, if not below 0. */
  public static double notNegative(String name, double value) {
    if (!(value >= 0)) {
      throw new IllegalArgumentException(name + " must not be negative: " + value);
    }
    return value;
  }

  /** {@code value}, if not below zero. */
  public static Duration notNegative(String name, Duration value) {
    Objects.requireNonNull(value, name);
    if (value.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative: " + value);
    }
    return value;
  }
}
