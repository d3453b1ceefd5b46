package dev.herald.client;

import dev.herald.core.Event;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** A Flow subscriber that requests only when told to, and catches any excess delivery. */
class TestSubscriber implements Flow.Subscriber<Event> {
  final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  final CountDownLatch subscribed = new CountDownLatch(1);
  final CountDownLatch terminated = new CountDownLatch(1);
  final AtomicReference<Throwable> error = new AtomicReference<>();
  final AtomicLong outstanding = new AtomicLong();
  final AtomicLong received = new AtomicLong();

  /** Set if onNext ever came without demand: a Reactive Streams violation. */
  volatile boolean overflowed;

  volatile boolean completed;
  private volatile Flow.Subscription subscription;

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscribed.countDown();
  }

  @Override
  public void onNext(Event event) {
    if (outstanding.getAndDecrement() <= 0) {
      overflowed = true;
    }
    received.incrementAndGet();
    events.add(event);
  }

  @Override
  public void onError(Throwable throwable) {
    error.set(throwable);
    terminated.countDown();
  }

  @Override
  public void onComplete() {
    completed = true;
    terminated.countDown();
  }

  void request(long n) throws InterruptedException {
    if (!subscribed.await(10, TimeUnit.SECONDS)) {
      throw new AssertionError("Not subscribed within 10 s");
    }
    outstanding.addAndGet(n == Long.MAX_VALUE ? Long.MAX_VALUE / 2 : n);
    subscription.request(n);
  }

  void cancel() {
    subscription.cancel();
  }

  Event next() throws InterruptedException {
    Event event = events.poll(10, TimeUnit.SECONDS);
    if (event == null) {
      throw new AssertionError("No event within 10 s");
    }
    return event;
  }

  void awaitTerminated() throws InterruptedException {
    if (!terminated.await(10, TimeUnit.SECONDS)) {
      throw new AssertionError("Not terminated within 10 s");
    }
  }
}
