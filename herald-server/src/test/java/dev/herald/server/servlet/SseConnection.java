package dev.herald.server.servlet;

import dev.herald.core.Event;
import dev.herald.core.SseParser;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real event-stream client for tests: {@link HttpClient} for HTTP, herald-core's {@link
 * SseParser} for the stream, one reader thread.
 */
final class SseConnection implements AutoCloseable {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private final HttpResponse<InputStream> response;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final List<String> comments = new CopyOnWriteArrayList<>();
  private final CountDownLatch ended = new CountDownLatch(1);
  private final Thread reader;
  private volatile IOException failure;

  private SseConnection(HttpResponse<InputStream> response) {
    this.response = response;
    SseParser parser =
        SseParser.builder()
            .build(
                new SseParser.Handler() {
                  @Override
                  public void onEvent(Event event) {
                    events.add(event);
                  }

                  @Override
                  public void onComment(String comment) {
                    comments.add(comment);
                  }
                });
    this.reader =
        new Thread(
            () -> {
              byte[] buffer = new byte[8192];
              try (InputStream in = response.body()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                  parser.feed(buffer, 0, n);
                }
              } catch (IOException e) {
                failure = e;
              } finally {
                ended.countDown();
              }
            },
            "sse-test-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** Opens {@code uri} with the given request headers; returns once the response head arrived. */
  static SseConnection open(URI uri, Map<String, String> headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    headers.forEach(request::header);
    return new SseConnection(
        CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofInputStream()));
  }

  static SseConnection open(URI uri) throws Exception {
    return open(uri, Map.of());
  }

  /** A plain GET whose body is read whole: for error responses. */
  static HttpResponse<String> get(URI uri) throws Exception {
    return CLIENT.send(
        HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<InputStream> response() {
    return response;
  }

  /** Takes the next event, waiting at most {@code timeout}; fails if none came. */
  Event next(Duration timeout) throws InterruptedException {
    Event event = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (event == null) {
      throw new AssertionError("no event within " + timeout);
    }
    return event;
  }

  /** Takes {@code n} events, waiting at most {@code timeout} for all of them. */
  List<Event> take(int n, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Event> taken = new ArrayList<>(n);
    while (taken.size() < n) {
      long left = deadline - System.nanoTime();
      Event event = events.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
      if (event == null) {
        throw new AssertionError("got " + taken.size() + " of " + n + " events within " + timeout);
      }
      taken.add(event);
    }
    return taken;
  }

  List<String> comments() {
    return comments;
  }

  /** Waits until the server ends the stream; true if it did. */
  boolean awaitEnd(Duration timeout) throws InterruptedException {
    return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Whether the stream ended cleanly (end of body rather than an error). */
  boolean endedCleanly() {
    return ended.getCount() == 0 && failure == null;
  }

  @Override
  public void close() throws Exception {
    response.body().close();
    reader.join(5000);
  }
}
