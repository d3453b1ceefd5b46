package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.StoredEvent;
import dev.herald.server.spi.EventLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/** A listener that records what a log announces and whether it was ever called concurrently. */
final class Announcements implements EventLog.Listener {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final List<StoredEvent> events = new ArrayList<>();
  private final AtomicInteger inside = new AtomicInteger();
  private volatile boolean concurrent;

  @Override
  public void onAppended(List<StoredEvent> batch) {
    if (inside.incrementAndGet() > 1) {
      concurrent = true;
    }
    try {
      lock.lock();
      try {
        events.addAll(batch);
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    } finally {
      inside.decrementAndGet();
    }
  }

  List<StoredEvent> events() {
    lock.lock();
    try {
      return new ArrayList<>(events);
    } finally {
      lock.unlock();
    }
  }

  List<Long> ids() {
    return events().stream().map(StoredEvent::id).toList();
  }

  boolean concurrent() {
    return concurrent;
  }

  /** Waits (bounded) until the announced events satisfy {@code condition}; asserts it did. */
  void awaitUntil(Predicate<List<StoredEvent>> condition, Duration timeout, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    lock.lock();
    try {
      while (!condition.test(events)) {
        long left = deadline - System.nanoTime();
        assertThat(left > 0).as("timed out waiting for %s; announced %s", what, ids()).isTrue();
        changed.await(left, TimeUnit.NANOSECONDS);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Waits until the event with {@code id} was announced. */
  void awaitId(long id) throws InterruptedException {
    awaitUntil(
        list -> list.stream().anyMatch(e -> e.id() == id), Duration.ofSeconds(10), "event " + id);
  }
}
