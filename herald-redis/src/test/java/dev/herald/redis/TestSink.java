package dev.herald.redis;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.herald.server.CloseReason;
import dev.herald.server.Sink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A sink that records frames and checks what sinks rely on: never called concurrently, nothing
 * after {@code closed}, {@code closed} once. Optionally reports itself over its bound after a
 * number of frames, as a slow client's connection would.
 */
final class TestSink implements Sink {
  private static final Pattern ID = Pattern.compile("^id: (\\d+)$", Pattern.MULTILINE);

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final AtomicInteger inside = new AtomicInteger();
  private final List<String> frames = new ArrayList<>();
  private final List<Long> ids = new ArrayList<>();
  private final List<CloseReason> closes = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();
  private final int acceptFrames;

  TestSink() {
    this(Integer.MAX_VALUE);
  }

  TestSink(int acceptFrames) {
    this.acceptFrames = acceptFrames;
  }

  @Override
  public boolean send(byte[] frame) {
    enter();
    lock.lock();
    try {
      if (!closes.isEmpty()) {
        violations.add("send after closed");
      }
      String text = new String(frame, UTF_8);
      frames.add(text);
      Matcher id = ID.matcher(text);
      if (id.find()) {
        ids.add(Long.parseLong(id.group(1)));
      }
      changed.signalAll();
      return frames.size() <= acceptFrames;
    } finally {
      lock.unlock();
      inside.decrementAndGet();
    }
  }

  @Override
  public void closed(CloseReason reason) {
    enter();
    lock.lock();
    try {
      if (!closes.isEmpty()) {
        violations.add("closed twice");
      }
      closes.add(reason);
      changed.signalAll();
    } finally {
      lock.unlock();
      inside.decrementAndGet();
    }
  }

  private void enter() {
    if (inside.incrementAndGet() > 1) {
      lock.lock();
      try {
        violations.add("called concurrently");
      } finally {
        lock.unlock();
      }
    }
  }

  List<Long> ids() {
    lock.lock();
    try {
      return new ArrayList<>(ids);
    } finally {
      lock.unlock();
    }
  }

  long lastEventId() {
    List<Long> all = ids();
    return all.isEmpty() ? 0 : all.get(all.size() - 1);
  }

  List<String> frames() {
    lock.lock();
    try {
      return new ArrayList<>(frames);
    } finally {
      lock.unlock();
    }
  }

  List<CloseReason> closes() {
    lock.lock();
    try {
      return new ArrayList<>(closes);
    } finally {
      lock.unlock();
    }
  }

  List<String> violations() {
    lock.lock();
    try {
      return new ArrayList<>(violations);
    } finally {
      lock.unlock();
    }
  }

  /** Waits until {@code condition} holds; false if it did not within the timeout. */
  boolean await(Predicate<TestSink> condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.test(this)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      lock.lock();
      try {
        changed.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)), TimeUnit.NANOSECONDS);
      } finally {
        lock.unlock();
      }
    }
    return true;
  }
}
