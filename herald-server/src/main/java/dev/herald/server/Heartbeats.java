package dev.herald.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Every open subscription, in the slot it was given round-robin, and the ticks that keep idle
 * streams alive. Each tick visits one slot, so streams that fall idle together get their heartbeats
 * spread over the interval, not in one burst: writing 10 000 heartbeats at once holds up every
 * delivery queued behind them for ~100 ms.
 */
final class Heartbeats {
  /** Most slots: a tick visits one, so a burst of heartbeats is 1/64 of the idle streams. */
  static final int MAX_SLOTS = 64;

  private final List<Set<BrokerSubscription>> slots;
  private final AtomicInteger next = new AtomicInteger();
  private long ticks; // the scheduler thread's (tests tick by hand, with no scheduler)

  /**
   * Slots for {@code interval}; ticks on {@code scheduler} unless the interval is zero. Each
   * subscription is visited twice per interval: it gets a heartbeat once it has been idle for two
   * whole visits, so between one interval and one and a half after its last frame. The visits of
   * the slots are staggered over each half interval, at most one tick per millisecond.
   */
  Heartbeats(Duration interval, ScheduledExecutorService scheduler) {
    long halfInterval = interval.toNanos() / 2;
    int count = (int) Math.max(1, Math.min(MAX_SLOTS, halfInterval / 1_000_000));
    this.slots = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      slots.add(ConcurrentHashMap.newKeySet());
    }
    if (!interval.isZero()) {
      long tickNanos = Math.max(1_000_000, halfInterval / count);
      scheduler.scheduleAtFixedRate(this::tick, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The slot of a new subscription: round-robin, so the slots stay even. */
  int nextSlot() {
    return Math.floorMod(next.getAndIncrement(), slots.size());
  }

  void add(BrokerSubscription subscription) {
    slots.get(subscription.heartbeatSlot()).add(subscription);
  }

  void remove(BrokerSubscription subscription) {
    slots.get(subscription.heartbeatSlot()).remove(subscription);
  }

  /** One tick: visits the subscriptions of the next slot. */
  void tick() {
    for (BrokerSubscription subscription : slots.get((int) (ticks++ % slots.size()))) {
      subscription.heartbeatTick();
    }
  }

  /** How many subscriptions are open. */
  int count() {
    int count = 0;
    for (Set<BrokerSubscription> slot : slots) {
      count += slot.size();
    }
    return count;
  }

  /** Visits every open subscription. */
  void forEach(Consumer<BrokerSubscription> action) {
    for (Set<BrokerSubscription> slot : slots) {
      slot.forEach(action);
    }
  }

  /** How many slots there are; for tests. */
  int slotCount() {
    return slots.size();
  }
}
