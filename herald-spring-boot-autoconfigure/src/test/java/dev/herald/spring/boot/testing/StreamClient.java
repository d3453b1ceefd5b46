package dev.herald.spring.boot.testing;

import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A subscriber on herald-client's {@link EventSource}, recording what it receives: events in order,
 * comments, and whether it opened. It reconnects after 10 ms with {@code Last-Event-ID}, as a
 * browser would after its reconnection time.
 */
public final class StreamClient implements AutoCloseable {
  private final EventSource source;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final List<String> comments = new CopyOnWriteArrayList<>();
  private final CountDownLatch opened = new CountDownLatch(1);

  private StreamClient(URI uri, String lastEventId, Map<String, String> headers) {
    EventSource.Builder builder =
        EventSource.builder(uri)
            .lastEventId(lastEventId)
            .reconnectionTime(Duration.ofMillis(10))
            .listener(
                new EventSourceListener() {
                  @Override
                  public void onEvent(Event event) {
                    events.add(event);
                  }

                  @Override
                  public void onOpen(HttpResponse.ResponseInfo response) {
                    opened.countDown();
                  }

                  @Override
                  public void onComment(String comment) {
                    comments.add(comment);
                  }

                  @Override
                  public void onError(Throwable error, Optional<Duration> retryDelay) {}
                });
    headers.forEach(builder::header);
    this.source = builder.build();
    source.start();
  }

  /**
   * Subscribes to {@code uri} from {@code lastEventId} ("" for live only) and waits until the
   * stream is open, so that what is published from now on is delivered.
   */
  public static StreamClient open(URI uri, String lastEventId, Map<String, String> headers)
      throws InterruptedException {
    StreamClient client = new StreamClient(uri, lastEventId, headers);
    if (!client.opened.await(10, TimeUnit.SECONDS)) {
      client.close();
      throw new AssertionError("no stream opened at " + uri + " within 10 s");
    }
    return client;
  }

  /** Subscribes without headers; see {@link #open(URI, String, Map)}. */
  public static StreamClient open(URI uri, String lastEventId) throws InterruptedException {
    return open(uri, lastEventId, Map.of());
  }

  /** Takes the next event, waiting at most {@code timeout}; fails if none came. */
  public Event next(Duration timeout) throws InterruptedException {
    Event event = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (event == null) {
      throw new AssertionError("no event within " + timeout);
    }
    return event;
  }

  /** Takes {@code n} events, waiting at most {@code timeout} for all of them. */
  public List<Event> take(int n, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Event> taken = new ArrayList<>(n);
    while (taken.size() < n) {
      Event event = events.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (event == null) {
        throw new AssertionError("got " + taken.size() + " of " + n + " events within " + timeout);
      }
      taken.add(event);
    }
    return taken;
  }

  /** The next event if one arrives within {@code timeout}. */
  public Optional<Event> poll(Duration timeout) throws InterruptedException {
    return Optional.ofNullable(events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS));
  }

  /** Comments received so far (heartbeats are empty ones). */
  public List<String> comments() {
    return comments;
  }

  /** Drops the connection at once and reconnects with {@code Last-Event-ID}. */
  public void restart() {
    source.restart();
  }

  @Override
  public void close() {
    source.close();
  }
}
