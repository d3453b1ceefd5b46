package dev.herald.hub.internal.http;

import dev.herald.core.internal.Checks;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Token buckets, one per key (a token's subject, a client address, or one shared key): {@code
 * perSecond} tokens a second, holding at most {@code burst}. A rate of 0 means no limit.
 *
 * <p>The map is bounded: past {@value #MAX_KEYS} keys, buckets that are full again (their key has
 * been quiet) are dropped, which loses nothing.
 */
public final class RateLimiter {
  static final int MAX_KEYS = 100_000;

  private final double perSecond;
  private final double burst;
  private final LongSupplier nanos;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  private final class Bucket {
    private double tokens = burst;
    private long last = nanos.getAsLong();

    /** Takes n tokens; returns 0 on success, else the nanoseconds until they are available. */
    synchronized long take(double n) {
      long now = nanos.getAsLong();
      tokens = Math.min(burst, tokens + (now - last) * perSecond / 1e9);
      last = now;
      if (tokens >= n) {
        tokens -= n;
        return 0;
      }
      return (long) Math.ceil((n - tokens) / perSecond * 1e9);
    }

    synchronized boolean full() {
      long now = nanos.getAsLong();
      return tokens + (now - last) * perSecond / 1e9 >= burst;
    }
  }

  /** {@code perSecond} per key (0: unlimited), bursts of up to {@code burst}. */
  public RateLimiter(double perSecond, double burst, LongSupplier nanos) {
    if (perSecond < 0 || (perSecond > 0 && burst < 1)) {
      throw new IllegalArgumentException("rate must be >= 0 and burst >= 1");
    }
    this.perSecond = perSecond;
    this.burst = burst;
    this.nanos = nanos;
  }

  /** {@code perSecond} per key with a burst of one second's worth (at least 1). */
  public static RateLimiter perSecond(double perSecond) {
    return new RateLimiter(perSecond, Math.max(1, perSecond), System::nanoTime);
  }

  /** Whether the limiter limits anything. */
  public boolean enabled() {
    return perSecond > 0;
  }

  /**
   * Takes one token for {@code key}.
   *
   * @return 0 if allowed, else the whole seconds (at least 1) to wait before retrying
   */
  public int acquire(String key) {
    return acquire(key, 1);
  }

  /**
   * Takes {@code permits} tokens for {@code key} at once (a batch of events), or none. A request
   * for more than the burst takes a whole burst, so a large batch waits for a full bucket instead
   * of never passing.
   *
   * @return 0 if allowed, else the whole seconds (at least 1) to wait before retrying
   */
  public int acquire(String key, int permits) {
    if (perSecond <= 0) {
      return 0;
    }
    Checks.positive("permits", permits);
    if (buckets.size() >= MAX_KEYS) {
      buckets.values().removeIf(Bucket::full);
    }
    long wait = buckets.computeIfAbsent(key, k -> new Bucket()).take(Math.min(permits, burst));
    return wait == 0 ? 0 : (int) Math.max(1, Math.ceil(wait / 1e9));
  }
}
