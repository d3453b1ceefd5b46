package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A test subscriber: JDK HttpClient for the request, herald-core's {@link SseParser} for the
 * stream. Events and comments are queued as they arrive; the end of the stream is recorded.
 */
final class SseStream implements AutoCloseable {
  private final HttpResponse<InputStream> response;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> comments = new LinkedBlockingQueue<>();
  private final CountDownLatch ended = new CountDownLatch(1);
  private volatile boolean cleanEnd;
  private final Thread reader;

  private SseStream(HttpResponse<InputStream> response) {
    this.response = response;
    SseParser parser =
        SseParser.create(
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
    reader =
        new Thread(
            () -> {
              byte[] buffer = new byte[8192];
              try (InputStream in = response.body()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                  parser.feed(buffer, 0, n);
                }
                cleanEnd = true;
              } catch (IOException e) {
                cleanEnd = false;
              } finally {
                ended.countDown();
              }
            },
            "sse-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** Opens a stream; returns once the response head has arrived. */
  static SseStream open(HttpClient client, URI uri, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).GET();
    if (headers.length > 0) {
      request.headers(headers);
    }
    HttpResponse<InputStream> response =
        client
            .sendAsync(request.build(), HttpResponse.BodyHandlers.ofInputStream())
            .get(10, TimeUnit.SECONDS);
    return new SseStream(response);
  }

  HttpResponse<InputStream> response() {
    return response;
  }

  /** The next event, failing the test after {@code timeout}. */
  Event next(Duration timeout) throws InterruptedException {
    Event event = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(event).as("an event within " + timeout).isNotNull();
    return event;
  }

  /** The next event within 10 s. */
  Event next() throws InterruptedException {
    return next(Duration.ofSeconds(10));
  }

  /** The next {@code n} events, each within 10 s. */
  List<Event> next(int n) throws InterruptedException {
    List<Event> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      list.add(next());
    }
    return list;
  }

  /** The next comment within {@code timeout}, or null. */
  String comment(Duration timeout) throws InterruptedException {
    return comments.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Events received and not yet taken. */
  List<Event> pending() {
    return new ArrayList<>(events);
  }

  /** Waits for the end of the stream; true if it ended within {@code timeout}. */
  boolean awaitEnd(Duration timeout) throws InterruptedException {
    return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Whether the stream ended with a clean end of body (the terminating chunk). */
  boolean endedCleanly() {
    return cleanEnd;
  }

  @Override
  public void close() throws IOException {
    response.body().close();
  }
}
