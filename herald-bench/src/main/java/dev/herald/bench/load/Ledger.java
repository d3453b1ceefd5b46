package dev.herald.bench.load;

import java.util.BitSet;

/**
 * What was published to each topic of a resume benchmark, in sequence numbers 1, 2, 3... (one
 * publish in flight per topic, so the hub's order is the numbers' order): the highest number sent
 * and acknowledged, and the numbers that got no acknowledgement. A subscriber may skip only those
 * (or anything after a {@code reset}); a refused one (an error status) must never be delivered.
 */
final class Ledger {
  private final long[] sent;
  private final long[] acked;
  private final BitSet[] unanswered;
  private final BitSet[] refused;

  Ledger(int topics) {
    sent = new long[topics];
    acked = new long[topics];
    unanswered = new BitSet[topics];
    refused = new BitSet[topics];
    for (int t = 0; t < topics; t++) {
      unanswered[t] = new BitSet();
      refused[t] = new BitSet();
    }
  }

  int topics() {
    return sent.length;
  }

  synchronized long next(int topic) {
    return ++sent[topic];
  }

  synchronized void acked(int topic, long seq) {
    acked[topic] = Math.max(acked[topic], seq);
  }

  /** No answer (the connection died): the event may or may not have been stored. */
  synchronized void unanswered(int topic, long seq) {
    unanswered[topic].set((int) seq);
  }

  /** An error status: nothing was stored. */
  synchronized void refused(int topic, long seq) {
    refused[topic].set((int) seq);
  }

  synchronized long acked(int topic) {
    return acked[topic];
  }

  synchronized long sent(int topic) {
    return sent[topic];
  }

  /** Whether every number in [from, to] may be missing (not acknowledged). */
  synchronized boolean mayBeMissing(int topic, long from, long to) {
    for (long s = from; s <= to; s++) {
      if (!unanswered[topic].get((int) s) && !refused[topic].get((int) s)) {
        return false;
      }
    }
    return true;
  }

  synchronized boolean wasRefused(int topic, long seq) {
    return refused[topic].get((int) seq);
  }

  /** Sum over topics of acknowledged events and of events sent without acknowledgement. */
  synchronized long[] totals() {
    long a = 0;
    long u = 0;
    long r = 0;
    for (int t = 0; t < sent.length; t++) {
      a += sent[t] - unanswered[t].cardinality() - refused[t].cardinality();
      u += unanswered[t].cardinality();
      r += refused[t].cardinality();
    }
    return new long[] {a, u, r};
  }
}
