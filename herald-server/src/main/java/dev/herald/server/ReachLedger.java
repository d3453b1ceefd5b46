package dev.herald.server;

import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many local streams each event reached, kept from its fan-out (on the log's announcing thread)
 * until the publish that stored it picks it up. Only while a publish of this node awaits its log:
 * and bounded, since announcements of other nodes' events (a shared log) are never picked up.
 */
final class ReachLedger {
  private static final int MAX_REMEMBERED = 65_536;

  private final ConcurrentSkipListMap<Long, Integer> reachedById = new ConcurrentSkipListMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  // ConcurrentSkipListMap.size() walks the map: counted separately.
  private final AtomicInteger remembered = new AtomicInteger();

  /** A publish of this node awaits its log. */
  void publishing() {
    inFlight.incrementAndGet();
  }

  /** That publish's log answered. */
  void published() {
    inFlight.decrementAndGet();
  }

  /** Records the reach of an announced event, if a publish may pick it up. */
  void record(long id, int reached) {
    if (inFlight.get() > 0
        && reachedById.put(id, reached) == null
        && remembered.incrementAndGet() > MAX_REMEMBERED
        && reachedById.pollFirstEntry() != null) {
      remembered.decrementAndGet();
    }
  }

  /** Takes the recorded reach of an event: 0 if none was recorded. */
  int take(long id) {
    Integer reached = reachedById.remove(id);
    if (reached == null) {
      return 0;
    }
    remembered.decrementAndGet();
    return reached;
  }
}
