package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A listener that records every callback, with bounded waits for tests. */
class Recorder implements EventSourceListener {
  static final Duration WAIT = Duration.ofSeconds(10);

  /** One {@link #onError} call. */
  record Failure(Throwable error, Optional<Duration> retryDelay) {}

  final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  final BlockingQueue<String> comments = new LinkedBlockingQueue<>();
  final BlockingQueue<Failure> failures = new LinkedBlockingQueue<>();
  final BlockingQueue<HttpResponse.ResponseInfo> opens = new LinkedBlockingQueue<>();
  final CountDownLatch closed = new CountDownLatch(1);
  final AtomicInteger closedCount = new AtomicInteger();

  /** Every callback in order, as "open", "event:<data>", "comment:<text>", "error", "closed". */
  final List<String> log = new CopyOnWriteArrayList<>();

  final List<String> threads = new CopyOnWriteArrayList<>();

  @Override
  public void onEvent(Event event) {
    log.add("event:" + event.data());
    threads.add(Thread.currentThread().getName());
    events.add(event);
  }

  @Override
  public void onOpen(HttpResponse.ResponseInfo response) {
    log.add("open");
    opens.add(response);
  }

  @Override
  public void onComment(String comment) {
    log.add("comment:" + comment);
    comments.add(comment);
  }

  @Override
  public void onError(Throwable error, Optional<Duration> retryDelay) {
    log.add("error");
    failures.add(new Failure(error, retryDelay));
  }

  @Override
  public void onClosed() {
    log.add("closed");
    closedCount.incrementAndGet();
    closed.countDown();
  }

  Event nextEvent() {
    return poll(events, "event");
  }

  List<Event> nextEvents(int n) {
    List<Event> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      list.add(nextEvent());
    }
    return list;
  }

  Failure nextFailure() {
    return poll(failures, "error");
  }

  String nextComment() {
    return poll(comments, "comment");
  }

  HttpResponse.ResponseInfo nextOpen() {
    return poll(opens, "open");
  }

  void awaitClosed() throws InterruptedException {
    assertThat(closed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
        .as("onClosed within %s", WAIT)
        .isTrue();
  }

  private static <T> T poll(BlockingQueue<T> queue, String what) {
    try {
      T item = queue.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (item == null) {
        throw new AssertionError("No " + what + " within " + WAIT);
      }
      return item;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
