package dev.herald.server;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting for a condition that another thread makes true, bounded. */
public final class Conditions {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private Conditions() {}

  /** Polls {@code condition} until it holds, for at most ten seconds; whether it held. */
  public static boolean eventually(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(5);
    }
    return true;
  }
}
