package dev.herald.hub.cluster;

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
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A subscriber that follows a stream across hub nodes, as a client behind a load balancer would:
 * when its stream ends (the node died, or ended it) it reconnects to the next node of its list with
 * {@code Last-Event-ID} set to the last id it received, after a short pause, until closed. It can
 * also be moved to a given node on purpose. Every event received is recorded, in order.
 */
final class Follower implements AutoCloseable {
  /** One event as received: its id, type and data, and the node it came from. */
  record Received(String id, String type, String data, URI node) {}

  private static final long RECONNECT_PAUSE_MILLIS = 50;

  private final HttpClient client;
  private final String query;
  private final List<URI> nodes;
  private final Object lock = new Object();
  // Guarded by lock.
  private final List<Received> received = new ArrayList<>();
  private final List<URI> connections = new ArrayList<>();
  private String lastId = "";
  private int current;
  private boolean following;
  private boolean closed;
  private Thread reader;
  private HttpResponse<InputStream> response;

  /**
   * @param query the query string of {@code /events}, e.g. {@code ?topic=a&topic=b}
   * @param nodes the base URIs of the nodes, in the order it tries them; it starts on the first
   */
  Follower(HttpClient client, String query, List<URI> nodes) {
    this.client = client;
    this.query = query;
    this.nodes = List.copyOf(nodes);
  }

  /** Opens the first stream (live, no Last-Event-ID); returns once it is open (200). */
  Follower start() throws Exception {
    connect(0);
    return this;
  }

  /**
   * Ends the current stream and opens one on {@code node} (an index into the node list) with the
   * last id received: an exact resume. Returns once the new stream is open.
   */
  void moveTo(int node) throws Exception {
    disconnect();
    connect(node);
  }

  /** Ends the current stream and does not reconnect until {@link #moveTo}. */
  void disconnect() throws InterruptedException {
    Thread old;
    synchronized (lock) {
      following = false;
      old = reader;
      if (response != null) {
        closeQuietly(response);
      }
    }
    if (old != null) {
      old.interrupt();
      old.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(old.isAlive()).as("the old stream's reader stopped").isFalse();
    }
  }

  private void connect(int node) throws Exception {
    HttpResponse<InputStream> opened = open(node);
    assertThat(opened.statusCode()).as("subscribe answered").isEqualTo(200);
    synchronized (lock) {
      current = node;
      following = true;
      startReader(opened, node);
    }
  }

  private HttpResponse<InputStream> open(int node) throws Exception {
    String id;
    synchronized (lock) {
      id = lastId;
    }
    HttpRequest.Builder request =
        HttpRequest.newBuilder(nodes.get(node).resolve("/events" + query)).GET();
    if (!id.isEmpty()) {
      request.header("Last-Event-ID", id);
    }
    return client
        .sendAsync(request.build(), HttpResponse.BodyHandlers.ofInputStream())
        .get(10, TimeUnit.SECONDS);
  }

  // Under lock.
  private void startReader(HttpResponse<InputStream> opened, int node) {
    response = opened;
    connections.add(nodes.get(node));
    URI from = nodes.get(node);
    SseParser parser =
        SseParser.create(
            (SseParser.Handler)
                (Event event) -> {
                  synchronized (lock) {
                    String id = event.id().orElse("");
                    received.add(new Received(id, event.type(), event.data(), from));
                    if (!id.isEmpty()) {
                      lastId = id;
                    }
                    lock.notifyAll();
                  }
                });
    Thread thread = new Thread(() -> read(opened, parser), "follower" + query);
    thread.setDaemon(true);
    reader = thread;
    thread.start();
  }

  /** Reads one stream to its end; then, if still following, fails over to the next node. */
  private void read(HttpResponse<InputStream> opened, SseParser parser) {
    byte[] buffer = new byte[8192];
    try (InputStream in = opened.body()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        parser.feed(buffer, 0, n);
      }
    } catch (IOException e) {
      // The node died or the stream was cut: fail over below.
    }
    // Bounded: a node list is tried for at most 20 s before the follower gives up.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      int next;
      synchronized (lock) {
        if (!following || closed || reader != Thread.currentThread()) {
          return;
        }
        next = (current + 1) % nodes.size();
        current = next;
      }
      try {
        // A client's reconnection delay (the SSE "retry" time), not synchronisation.
        Thread.sleep(RECONNECT_PAUSE_MILLIS);
        HttpResponse<InputStream> reopened = open(next);
        if (reopened.statusCode() == 200) {
          synchronized (lock) {
            if (!following || closed) {
              closeQuietly(reopened);
              return;
            }
            startReader(reopened, next);
            return;
          }
        }
        closeQuietly(reopened);
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        // Connection refused (the dead node) or a timeout: try the next node.
      }
    }
  }

  /**
   * Waits until the events received satisfy {@code condition}, at most {@code timeout}; returns
   * whether they did.
   */
  boolean await(Predicate<List<Received>> condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (!condition.test(received)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  /** Waits until an event with id {@code id} (or a later one) has arrived, at most 20 s. */
  boolean awaitId(String id) throws InterruptedException {
    long wanted = Long.parseLong(id);
    return await(
        events ->
            events.stream().anyMatch(e -> !e.id().isEmpty() && Long.parseLong(e.id()) >= wanted),
        Duration.ofSeconds(20));
  }

  /** Every event received so far, in order. */
  List<Received> received() {
    synchronized (lock) {
      return List.copyOf(received);
    }
  }

  /** The ids of every event received so far, in order. */
  List<String> ids() {
    return received().stream().map(Received::id).toList();
  }

  /** The nodes it has had streams on, in order. */
  List<URI> connections() {
    synchronized (lock) {
      return List.copyOf(connections);
    }
  }

  /** For failure messages: the query, the nodes it was on, and the last few ids. */
  @Override
  public String toString() {
    List<String> ids = ids();
    return "Follower"
        + query
        + " on "
        + connections()
        + ", "
        + ids.size()
        + " events, last "
        + ids.subList(Math.max(0, ids.size() - 5), ids.size());
  }

  @Override
  public void close() throws InterruptedException {
    synchronized (lock) {
      closed = true;
    }
    disconnect();
  }

  private static void closeQuietly(HttpResponse<InputStream> response) {
    try {
      response.body().close();
    } catch (IOException e) {
      // Closing a stream that is already broken.
    }
  }
}
