package dev.herald.bench.load;

/**
 * A log-linear histogram of microsecond values with about 0.1 % precision: exact below 2048 µs,
 * then 1024 sub-buckets per power of two. Not thread-safe; each event loop records into its own and
 * they are merged after a snapshot.
 */
final class LatencyHistogram {
  private static final int LINEAR = 2048;
  private static final int SUB_BITS = 10;
  private static final int MAX_EXPONENT = 44;
  private final long[] counts = new long[LINEAR + (MAX_EXPONENT - 10) * (1 << SUB_BITS)];
  private long total;
  private long max;

  void record(long micros) {
    long v = Math.max(0, micros);
    counts[index(v)]++;
    total++;
    if (v > max) {
      max = v;
    }
  }

  private static int index(long v) {
    if (v < LINEAR) {
      return (int) v;
    }
    int exponent = Math.min(63 - Long.numberOfLeadingZeros(v), MAX_EXPONENT - 1);
    int sub = (int) ((v >>> (exponent - SUB_BITS)) & ((1 << SUB_BITS) - 1));
    return LINEAR + (exponent - 11) * (1 << SUB_BITS) + sub;
  }

  private static long lowerBound(int index) {
    if (index < LINEAR) {
      return index;
    }
    int exponent = (index - LINEAR) / (1 << SUB_BITS) + 11;
    int sub = (index - LINEAR) % (1 << SUB_BITS);
    return (1L << exponent) + ((long) sub << (exponent - SUB_BITS));
  }

  void add(LatencyHistogram other) {
    for (int i = 0; i < counts.length; i++) {
      counts[i] += other.counts[i];
    }
    total += other.total;
    max = Math.max(max, other.max);
  }

  long count() {
    return total;
  }

  long max() {
    return max;
  }

  /** The value at quantile q (0..1) in microseconds, 0 when empty. */
  long percentile(double q) {
    if (total == 0) {
      return 0;
    }
    long rank = (long) Math.ceil(q * total);
    long seen = 0;
    for (int i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= Math.max(1, rank)) {
        return lowerBound(i);
      }
    }
    return max;
  }
}
