package dev.herald.spring.boot.testing;

import dev.herald.server.BrokerListener;
import dev.herald.server.CloseReason;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link BrokerListener} bean of the test applications (imported with {@code @Import}): counts
 * the subscriptions opened and how each ended. That the broker calls it also shows that it takes
 * every listener bean, next to the metrics.
 */
public final class CloseRecorder implements BrokerListener {
  private final AtomicInteger opened = new AtomicInteger();
  private final Map<CloseReason, AtomicInteger> closed = new ConcurrentHashMap<>();

  @Override
  public void subscriptionOpened() {
    opened.incrementAndGet();
  }

  @Override
  public void subscriptionClosed(CloseReason reason) {
    closed.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
  }

  /** Subscriptions opened so far. */
  public int opened() {
    return opened.get();
  }

  /** Subscriptions that ended for {@code reason} so far. */
  public int closedAs(CloseReason reason) {
    AtomicInteger count = closed.get(reason);
    return count == null ? 0 : count.get();
  }
}
