package dev.herald.server;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * A sink that records what the broker gives it and checks the rules sinks rely on: never called
 * concurrently, nothing after {@code closed}, {@code closed} exactly once.
 */
public final class RecordingSink implements Sink {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final AtomicInteger inside = new AtomicInteger();
  private final List<byte[]> frames = new ArrayList<>();
  private final List<CloseReason> closes = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();
  private final List<Thread> callers = new ArrayList<>();
  private final int acceptFrames;
  private volatile boolean writable = true;
  private volatile int pauseAfter = Integer.MAX_VALUE;

  /** A sink that accepts every frame. */
  public RecordingSink() {
    this(Integer.MAX_VALUE);
  }

  /** A sink that reports itself over its bound after {@code acceptFrames} frames. */
  public RecordingSink(int acceptFrames) {
    this.acceptFrames = acceptFrames;
  }

  @Override
  public boolean send(byte[] frame) {
    enter();
    try {
      lock.lock();
      try {
        if (!closes.isEmpty()) {
          violations.add("send after closed: " + new String(frame, UTF_8));
        }
        frames.add(frame);
        callers.add(Thread.currentThread());
        if (frames.size() >= pauseAfter) {
          writable = false;
        }
        changed.signalAll();
        return frames.size() <= acceptFrames;
      } finally {
        lock.unlock();
      }
    } finally {
      leave();
    }
  }

  @Override
  public boolean writable() {
    return writable;
  }

  @Override
  public void closed(CloseReason reason) {
    enter();
    try {
      lock.lock();
      try {
        if (!closes.isEmpty()) {
          violations.add("closed twice: " + closes + " then " + reason);
        }
        closes.add(reason);
        callers.add(Thread.currentThread());
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    } finally {
      leave();
    }
  }

  /** Sets what {@link #writable()} reports, as a connection's buffer would fill or drain. */
  public void writable(boolean writable) {
    this.writable = writable;
  }

  /** Reports itself not writable once it holds {@code frames} frames, until told otherwise. */
  public void pauseAfter(int frames) {
    this.pauseAfter = frames;
  }

  private void enter() {
    if (inside.incrementAndGet() > 1) {
      synchronized (violations) {
        violations.add("called concurrently");
      }
    }
  }

  private void leave() {
    inside.decrementAndGet();
  }

  /** Every frame, in order, including heartbeats and resets. */
  public List<byte[]> frames() {
    lock.lock();
    try {
      return new ArrayList<>(frames);
    } finally {
      lock.unlock();
    }
  }

  /** The frames as text, heartbeats left out. */
  public List<String> texts() {
    List<String> texts = new ArrayList<>();
    for (byte[] frame : frames()) {
      String text = new String(frame, UTF_8);
      if (!text.equals(":\n")) {
        texts.add(text);
      }
    }
    return texts;
  }

  /** The ids of the event frames, in order. */
  public List<Long> ids() {
    List<Long> ids = new ArrayList<>();
    for (byte[] frame : frames()) {
      long id = idOf(frame);
      if (id > 0) {
        ids.add(id);
      }
    }
    return ids;
  }

  /** The id of the newest event frame, 0 if none. */
  public long lastEventId() {
    List<Long> ids = ids();
    return ids.isEmpty() ? 0 : ids.get(ids.size() - 1);
  }

  /** How many heartbeat frames it got. */
  public int heartbeats() {
    int n = 0;
    for (byte[] frame : frames()) {
      if (frame.length == 2 && frame[0] == ':' && frame[1] == '\n') {
        n++;
      }
    }
    return n;
  }

  /** The reasons it was closed with, in order (more than one is a violation). */
  public List<CloseReason> closes() {
    lock.lock();
    try {
      return new ArrayList<>(closes);
    } finally {
      lock.unlock();
    }
  }

  /** Broken sink rules seen so far; empty when the broker behaved. */
  public List<String> violations() {
    synchronized (violations) {
      lock.lock();
      try {
        return new ArrayList<>(violations);
      } finally {
        lock.unlock();
      }
    }
  }

  /** The thread of every call, in order. */
  public List<Thread> callers() {
    lock.lock();
    try {
      return new ArrayList<>(callers);
    } finally {
      lock.unlock();
    }
  }

  /** Waits until {@code condition} holds for this sink; false if it did not within the timeout. */
  public boolean await(Predicate<RecordingSink> condition, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    lock.lock();
    try {
      while (true) {
        lock.unlock();
        boolean holds;
        try {
          holds = condition.test(this);
        } finally {
          lock.lock();
        }
        if (holds) {
          return true;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        changed.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)), TimeUnit.NANOSECONDS);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Waits until it holds at least {@code count} event frames; false on timeout. */
  public boolean awaitIds(int count, Duration timeout) throws InterruptedException {
    return await(s -> s.ids().size() >= count, timeout);
  }

  /** Waits until it is closed; false on timeout. */
  public boolean awaitClosed(Duration timeout) throws InterruptedException {
    return await(s -> !s.closes().isEmpty(), timeout);
  }

  /** The id of an event frame ({@code id: N} first), or -1 for anything else. */
  public static long idOf(byte[] frame) {
    if (frame.length < 5 || frame[0] != 'i' || frame[1] != 'd' || frame[2] != ':') {
      return -1;
    }
    long id = 0;
    for (int i = 4; i < frame.length && frame[i] != '\n'; i++) {
      id = id * 10 + (frame[i] - '0');
    }
    return id;
  }
}
