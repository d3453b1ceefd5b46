package dev.herald.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import dev.herald.core.internal.DaemonThreads;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One client stream of the contract-test service: an {@link EventSource} and the callbacks that
 * report what it sees, POSTed to {@code {callbackUrl}/{n}} one at a time, in order.
 *
 * <p>The source's callbacks only enqueue; one thread per stream sends, waiting for each answer
 * before sending the next, so the harness receives the numbers in order and the source never waits
 * for the harness.
 */
final class ContractStream implements EventSourceListener {
  private static final Duration CALLBACK_TIMEOUT = Duration.ofSeconds(10);

  private final String id;
  private final String callbackBase;
  private final HttpClient http;
  private final PrintWriter log;
  private final ExecutorService sender;
  private final Set<String> listenedTypes = ConcurrentHashMap.newKeySet();

  /** Set once by {@link #start}; read by the service's request threads. */
  private volatile EventSource source;

  private int sent;

  ContractStream(String id, String callbackUrl, HttpClient http, PrintWriter log) {
    this.id = id;
    this.callbackBase =
        callbackUrl.endsWith("/")
            ? callbackUrl.substring(0, callbackUrl.length() - 1)
            : callbackUrl;
    this.http = http;
    this.log = log;
    this.sender =
        Executors.newSingleThreadExecutor(
            DaemonThreads.named("contract-stream-" + id + "-callbacks"));
  }

  /**
   * Starts {@code source}, which must have this stream as its listener. Only events of the types
   * listened to are reported, {@code message} from the start, as with a browser's EventSource.
   */
  void start(EventSource source) {
    this.source = source;
    listen(Event.DEFAULT_TYPE);
    source.start();
  }

  /** Reports events of {@code type} from now on (the {@code listen} command). */
  void listen(String type) {
    if (listenedTypes.add(type)) {
      source.addEventListener(type, this::report);
    }
  }

  /** Drops the connection and reconnects at once (the {@code restart} command). */
  void restart() {
    source.restart();
  }

  /** Closes the source; callbacks already queued are still sent. */
  void close() {
    source.close();
    synchronized (this) {
      sender.shutdown();
    }
  }

  @Override
  public void onEvent(Event event) {
    // Events are reported by the per-type listeners, so that unlistened types stay silent.
  }

  private void report(Event event) {
    ObjectNode message = EventJson.MAPPER.createObjectNode();
    message.put("kind", "event");
    message.set("event", EventJson.of(event));
    enqueue(message);
  }

  @Override
  public void onComment(String comment) {
    ObjectNode message = EventJson.MAPPER.createObjectNode();
    message.put("kind", "comment");
    message.put("comment", comment);
    enqueue(message);
  }

  @Override
  public void onError(Throwable error, Optional<Duration> retryDelay) {
    ObjectNode message = EventJson.MAPPER.createObjectNode();
    message.put("kind", "error");
    message.put("error", error.getMessage() == null ? error.toString() : error.getMessage());
    enqueue(message);
  }

  /** Numbers the message and queues it; callbacks of one source never overlap. */
  private synchronized void enqueue(ObjectNode message) {
    int n = ++sent;
    String body = EventJson.write(message);
    if (sender.isShutdown()) {
      return;
    }
    sender.execute(() -> send(n, body));
  }

  private void send(int n, String body) {
    URI target = URI.create(callbackBase + "/" + n);
    HttpRequest request =
        HttpRequest.newBuilder(target)
            .timeout(CALLBACK_TIMEOUT)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build();
    try {
      HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
      if (response.statusCode() >= 300) {
        warn("callback " + target + " answered " + response.statusCode());
      }
    } catch (IOException e) {
      warn("callback " + target + " failed: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void warn(String message) {
    synchronized (log) {
      log.println("herald contract-service: stream " + id + ": " + message);
      log.flush();
    }
  }
}
