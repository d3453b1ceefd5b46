package dev.herald.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.herald.client.EventSource;
import dev.herald.core.internal.DaemonThreads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The test service of the SSE client conformance harness (LaunchDarkly's {@code
 * sse-contract-tests}) wrapping {@link EventSource}, on 127.0.0.1: {@code GET /} lists the
 * capabilities, {@code POST /} creates a stream, {@code POST /streams/{id}} sends it a command
 * ({@code restart}, {@code listen}), {@code DELETE /streams/{id}} closes it, {@code DELETE /} stops
 * the service. What each stream's client sees goes to the harness as numbered callbacks; see {@link
 * ContractStream}.
 */
final class ContractService implements AutoCloseable {
  /** Everything {@link EventSource} can do that the harness knows how to test. */
  static final List<String> CAPABILITIES =
      List.of(
          "comments",
          "headers",
          "last-event-id",
          "post",
          "report",
          "read-timeout",
          "restart",
          "bom",
          "event-type-listeners",
          "server-directed-shutdown-request");

  private static final String STREAMS = "/streams/";
  private static final int MAX_REQUEST_BYTES = 1024 * 1024;

  private final HttpServer server;
  private final ExecutorService handlers;
  private final HttpClient callbacks;
  private final PrintWriter log;
  private final Map<String, ContractStream> streams = new ConcurrentHashMap<>();
  private final AtomicInteger nextId = new AtomicInteger();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CountDownLatch stopped = new CountDownLatch(1);

  private ContractService(HttpServer server, PrintWriter log) {
    this.server = server;
    this.log = log;
    this.handlers = Executors.newCachedThreadPool(DaemonThreads.named("contract-service-http"));
    this.callbacks = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    server.createContext("/", this::handle);
    server.setExecutor(handlers);
  }

  /**
   * Starts the service on {@code port} of 127.0.0.1 (0 for any free port); {@code log} receives
   * diagnostics.
   *
   * @throws UncheckedIOException if the port cannot be bound
   */
  static ContractService start(int port, PrintWriter log) {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot listen on 127.0.0.1:" + port + ": " + e, e);
    }
    ContractService service = new ContractService(server, log);
    server.start();
    return service;
  }

  /** The port the service listens on. */
  int port() {
    return server.getAddress().getPort();
  }

  /** Waits until {@code DELETE /} or {@link #close()} stopped the service. */
  void awaitStop() throws InterruptedException {
    stopped.await();
  }

  /** Waits up to {@code timeout} for the service to stop; returns whether it has. */
  boolean awaitStop(Duration timeout) throws InterruptedException {
    return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Closes every stream and stops listening. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (Iterator<ContractStream> it = streams.values().iterator(); it.hasNext(); ) {
      it.next().close();
      it.remove();
    }
    server.stop(0);
    handlers.shutdown();
    stopped.countDown();
  }

  // ---- Routing ----

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getRawPath();
      String method = exchange.getRequestMethod();
      if (path.equals("/")) {
        switch (method) {
          case "GET":
            status(exchange);
            return;
          case "POST":
            create(exchange);
            return;
          case "DELETE":
            respond(exchange, 200, null);
            // Stop from another thread: this handler must finish for the answer to go out first.
            Thread stopper = new Thread(this::close, "contract-service-stop");
            stopper.setDaemon(true);
            stopper.start();
            return;
          default:
            notAllowed(exchange, "GET, POST, DELETE");
            return;
        }
      }
      if (path.startsWith(STREAMS)) {
        ContractStream stream = streams.get(path.substring(STREAMS.length()));
        if (stream == null) {
          respond(exchange, 404, error("no such stream: " + path));
          return;
        }
        switch (method) {
          case "POST":
            command(exchange, stream);
            return;
          case "DELETE":
            String id = path.substring(STREAMS.length());
            if (streams.remove(id, stream)) {
              stream.close();
            }
            respond(exchange, 204, null);
            return;
          default:
            notAllowed(exchange, "POST, DELETE");
            return;
        }
      }
      respond(exchange, 404, error("no such resource: " + path));
    } catch (IllegalArgumentException e) {
      // A field of the wrong JSON type: found while parsing, before any answer was sent.
      respond(exchange, 400, error(e.getMessage()));
    } catch (RuntimeException e) {
      synchronized (log) {
        log.println("herald contract-service: " + e);
        log.flush();
      }
      throw e;
    }
  }

  private void status(HttpExchange exchange) throws IOException {
    ObjectNode body = EventJson.MAPPER.createObjectNode();
    body.put("name", "herald-client");
    ArrayNode capabilities = body.putArray("capabilities");
    CAPABILITIES.forEach(capabilities::add);
    respond(exchange, 200, body);
  }

  // ---- Streams ----

  private void create(HttpExchange exchange) throws IOException {
    if (closed.get()) {
      respond(exchange, 503, error("the service is stopping"));
      return;
    }
    JsonNode request = readJson(exchange);
    if (request == null) {
      return;
    }
    String streamUrl = text(request, "streamUrl");
    String callbackUrl = text(request, "callbackUrl");
    if (streamUrl == null || callbackUrl == null) {
      respond(exchange, 400, error("streamUrl and callbackUrl are required strings"));
      return;
    }
    try {
      URI callback = URI.create(callbackUrl);
      if (!callback.isAbsolute() || callback.getHost() == null) {
        throw new IllegalArgumentException("callbackUrl is not an absolute URL: " + callbackUrl);
      }
      EventSource.Builder builder = EventSource.builder(URI.create(streamUrl));
      configure(builder, request);
      String id = Integer.toString(nextId.incrementAndGet());
      ContractStream stream = new ContractStream(id, callbackUrl, callbacks, log);
      stream.start(builder.listener(stream).build());
      streams.put(id, stream);
      String host = exchange.getRequestHeaders().getFirst("Host");
      String base = host != null ? "http://" + host : "http://127.0.0.1:" + port();
      exchange.getResponseHeaders().set("Location", base + STREAMS + id);
      respond(exchange, 201, null);
    } catch (IllegalArgumentException e) {
      respond(exchange, 400, error(e.getMessage()));
    }
  }

  /** Applies the optional fields; throws IllegalArgumentException for one that is unusable. */
  private static void configure(EventSource.Builder builder, JsonNode request) {
    Long initialDelay = millis(request, "initialDelayMs");
    if (initialDelay != null) {
      builder.reconnectionTime(Duration.ofMillis(initialDelay));
    }
    Long readTimeout = millis(request, "readTimeoutMs");
    if (readTimeout != null) {
      builder.readTimeout(Duration.ofMillis(readTimeout));
    }
    JsonNode headers = request.get("headers");
    if (headers != null && !headers.isNull()) {
      if (!headers.isObject()) {
        throw new IllegalArgumentException("headers must be an object of strings");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = headers.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> header = it.next();
        if (!header.getValue().isTextual()) {
          throw new IllegalArgumentException("header " + header.getKey() + " is not a string");
        }
        if (header.getKey().equalsIgnoreCase("Last-Event-ID")) {
          builder.lastEventId(header.getValue().asText());
        } else {
          builder.header(header.getKey(), header.getValue().asText());
        }
      }
    }
    String lastEventId = text(request, "lastEventId");
    if (lastEventId != null) {
      builder.lastEventId(lastEventId);
    }
    String method = text(request, "method");
    String body = text(request, "body");
    if (method != null && !method.isEmpty()) {
      if (body != null) {
        builder.method(method, body);
      } else {
        builder.method(method);
      }
    } else if (body != null && !body.isEmpty()) {
      throw new IllegalArgumentException("a body needs a method");
    }
  }

  private void command(HttpExchange exchange, ContractStream stream) throws IOException {
    JsonNode request = readJson(exchange);
    if (request == null) {
      return;
    }
    String command = text(request, "command");
    if ("restart".equals(command)) {
      stream.restart();
      respond(exchange, 204, null);
    } else if ("listen".equals(command)) {
      // The harness's Go client sends the parameters as "Listen" (an untagged field).
      JsonNode listen = request.has("listen") ? request.get("listen") : request.get("Listen");
      String type = listen == null ? null : text(listen, "type");
      if (type == null || type.isEmpty()) {
        respond(exchange, 400, error("listen needs {\"listen\": {\"type\": \"...\"}}"));
        return;
      }
      stream.listen(type);
      respond(exchange, 204, null);
    } else {
      respond(exchange, 400, error("unknown command: " + command));
    }
  }

  // ---- JSON in and out ----

  /** The request body as JSON, or null after answering 400/413 when it is not usable. */
  private JsonNode readJson(HttpExchange exchange) throws IOException {
    byte[] bytes;
    try (InputStream in = exchange.getRequestBody()) {
      bytes = in.readNBytes(MAX_REQUEST_BYTES + 1);
    }
    if (bytes.length > MAX_REQUEST_BYTES) {
      respond(exchange, 413, error("request body over " + MAX_REQUEST_BYTES + " bytes"));
      return null;
    }
    try {
      JsonNode node = EventJson.MAPPER.readTree(bytes);
      if (node != null && node.isObject()) {
        return node;
      }
    } catch (JsonProcessingException e) {
      // Answered below, like any body that is not an object.
    }
    respond(exchange, 400, error("the body must be a JSON object"));
    return null;
  }

  /** A string field, or null when absent or JSON null; IllegalArgumentException if not a string. */
  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw new IllegalArgumentException(field + " must be a string");
    }
    return value.asText();
  }

  /** A non-negative integer field, or null when absent or JSON null. */
  private static Long millis(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.canConvertToLong() || !value.isIntegralNumber() || value.asLong() < 0) {
      throw new IllegalArgumentException(field + " must be a non-negative integer");
    }
    return value.asLong();
  }

  private static ObjectNode error(String message) {
    ObjectNode node = EventJson.MAPPER.createObjectNode();
    node.put("error", message);
    return node;
  }

  private static void notAllowed(HttpExchange exchange, String allow) throws IOException {
    exchange.getResponseHeaders().set("Allow", allow);
    respond(exchange, 405, error("method not allowed"));
  }

  private static void respond(HttpExchange exchange, int status, ObjectNode body)
      throws IOException {
    if (body == null) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    byte[] bytes = EventJson.write(body).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
