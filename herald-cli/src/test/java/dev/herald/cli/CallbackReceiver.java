package dev.herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The harness's side of the callbacks, for tests: records each POST to {@code /callbacks/{n}} and
 * answers 202, on as many threads as requests come in, so that callbacks sent out of turn would
 * show up. It can hold its answer to callback 1 until the test releases it.
 */
final class CallbackReceiver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One callback as received. */
  record Callback(String path, JsonNode body) {}

  private final HttpServer server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final BlockingQueue<Callback> received = new LinkedBlockingQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private volatile CountDownLatch holdFirst = new CountDownLatch(0);

  CallbackReceiver() {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.createContext("/callbacks", this::handle);
    server.setExecutor(threads);
    server.start();
  }

  /** The base callback URL to give the service. */
  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/callbacks";
  }

  /** Makes the answer to callback 1 wait until {@code latch} is released. */
  void holdFirstUntil(CountDownLatch latch) {
    holdFirst = latch;
  }

  /** The next callback, waiting up to 10 s; fails the test if none comes. */
  Callback take() throws InterruptedException {
    Callback callback = received.poll(10, TimeUnit.SECONDS);
    if (callback == null) {
      throw new AssertionError("No callback within 10 s");
    }
    return callback;
  }

  /** The next callback if one comes within {@code wait}, else null. */
  Callback poll(Duration wait) throws InterruptedException {
    return received.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The most callbacks that were ever unanswered at the same time. */
  int maxInFlight() {
    return maxInFlight.get();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      int now = inFlight.incrementAndGet();
      maxInFlight.accumulateAndGet(now, Math::max);
      try {
        String path = exchange.getRequestURI().getPath();
        byte[] body = exchange.getRequestBody().readAllBytes();
        received.add(new Callback(path, JSON.readTree(body)));
        if (path.equals("/callbacks/1") && !holdFirst.await(20, TimeUnit.SECONDS)) {
          throw new IOException("callback 1 held too long");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        inFlight.decrementAndGet();
      }
      exchange.sendResponseHeaders(202, -1);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
