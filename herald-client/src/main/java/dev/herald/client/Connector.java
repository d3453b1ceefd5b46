package dev.herald.client;

import static java.lang.System.Logger.Level.DEBUG;
import static java.lang.System.Logger.Level.WARNING;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;

/**
 * Takes one connection attempt as far as an open event stream: sends the request (the caller's
 * headers, {@code Last-Event-ID}), follows {@link Redirects}, closes the source on a 204, reads the
 * start of an error response for its message, and checks the content type. An event stream goes to
 * the {@link StreamReader}; anything else is a failure of the attempt, which the {@link
 * ReconnectLoop} decides about.
 *
 * <p>Responses are handled on the source's serial executor; a response of an attempt that is no
 * longer current is discarded.
 */
final class Connector {
  private static final int MAX_ERROR_BODY_BYTES = 8 * 1024;
  private static final Duration ERROR_BODY_TIMEOUT = Duration.ofSeconds(10);
  private static final String EVENT_STREAM = "text/event-stream";

  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Config config;
  private final Executor serial;
  private final ReconnectLoop loop;
  private final StreamReader reader;
  private final ReadTimeout readTimeout;

  // Confined to the serial executor: the warning is worth logging once per source, not per attempt.
  private boolean warnedAboutId;

  Connector(
      Config config,
      Executor serial,
      ReconnectLoop loop,
      StreamReader reader,
      ReadTimeout readTimeout) {
    this.config = config;
    this.serial = serial;
    this.loop = loop;
    this.reader = reader;
    this.readTimeout = readTimeout;
  }

  /** Sends the request of {@code c} as it stands (a redirect changes it and sends it again). */
  void send(Connection c) {
    HttpRequest request;
    CompletableFuture<HttpResponse<Flow.Publisher<List<ByteBuffer>>>> exchange;
    try {
      request = request(c);
      LOG.log(DEBUG, "Event source request: {0} {1}", c.method, c.uri);
      c.waiting();
      exchange = config.httpClient().sendAsync(request, HttpResponse.BodyHandlers.ofPublisher());
    } catch (RuntimeException e) {
      loop.refused(c, e);
      return;
    }
    c.exchange(exchange);
    exchange.whenComplete(
        (response, error) -> serial.execute(() -> onResponse(c, response, error)));
  }

  private HttpRequest request(Connection c) {
    HttpRequest.BodyPublisher body =
        c.body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofByteArray(c.body);
    HttpRequest.Builder builder = HttpRequest.newBuilder(c.uri).method(c.method, body);
    if (!config.hasHeader("Accept")) {
      builder.header("Accept", EVENT_STREAM);
    }
    if (!config.hasHeader("Cache-Control")) {
      builder.header("Cache-Control", "no-cache");
    }
    for (Map.Entry<String, String> header : config.headers()) {
      if (!Redirects.dropped(c, header.getKey())) {
        builder.header(header.getKey(), header.getValue());
      }
    }
    if (c.body != null && !config.hasHeader("Content-Type")) {
      builder.header("Content-Type", "text/plain; charset=utf-8");
    }
    String id = loop.lastEventId();
    if (!id.isEmpty()) {
      String value = LastEventIdHeader.value(id);
      if (!value.equals(id) && !warnedAboutId) {
        warnedAboutId = true;
        LOG.log(
            WARNING,
            "Last-Event-ID {0} cannot be sent as raw UTF-8 by java.net.http; sending it"
                + " percent-encoded as {1}",
            id,
            value);
      }
      builder.header("Last-Event-ID", value);
    }
    return builder.build();
  }

  private void onResponse(
      Connection c, HttpResponse<Flow.Publisher<List<ByteBuffer>>> response, Throwable error) {
    if (!loop.isCurrent(c)) {
      if (response != null) {
        discard(response);
      }
      return;
    }
    if (error != null) {
      loop.failConnection(c, unwrap(error));
      return;
    }
    int status = response.statusCode();
    if (Redirects.isRedirect(status)) {
      discard(response);
      redirect(c, response);
    } else if (status == 204) {
      discard(response);
      LOG.log(DEBUG, "Event source {0} answered 204 No Content: closing", c.uri);
      loop.closeByServer(c);
    } else if (status != 200) {
      // Read the start of the body: error bodies say why ({"error": "topic_not_allowed"}).
      if (config.readTimeout().isZero()) {
        readTimeout.arm(c, ERROR_BODY_TIMEOUT);
      }
      response.body().subscribe(new ErrorBodyReader(c, response));
    } else {
      Optional<String> contentType = response.headers().firstValue("Content-Type");
      if (contentType.map(Connector::isEventStream).orElse(false)) {
        reader.open(c, response);
      } else {
        discard(response);
        loop.failConnection(c, contentTypeError(c, response, contentType));
      }
    }
  }

  private void redirect(Connection c, HttpResponse<?> response) {
    int status = response.statusCode();
    Optional<String> location = response.headers().firstValue("Location");
    if (location.isEmpty()) {
      loop.failConnection(c, httpError(c, response, "without a Location header", ""));
      return;
    }
    Optional<URI> target = Redirects.target(c.uri, location.get());
    if (target.isEmpty()) {
      loop.failConnection(
          c, httpError(c, response, "with an unusable Location: " + location.get(), ""));
      return;
    }
    if (++c.redirects > Redirects.MAX) {
      loop.failConnection(c, httpError(c, response, "after " + Redirects.MAX + " redirects", ""));
      return;
    }
    LOG.log(DEBUG, "Event source {0} redirected ({1}) to {2}", c.uri, status, target.get());
    Redirects.follow(c, status, target.get());
    send(c);
  }

  /**
   * Reads the start of an error response's body, at most {@link #MAX_ERROR_BODY_BYTES}, then fails
   * the attempt with it: the body says why ({@code {"error": "topic_not_allowed"}}), and a huge one
   * must not be read to its end for that. Every signal goes to the serial executor.
   */
  private final class ErrorBodyReader implements Flow.Subscriber<List<ByteBuffer>> {
    private final Connection c;
    private final HttpResponse<?> response;

    // Confined to the serial executor.
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();

    ErrorBodyReader(Connection c, HttpResponse<?> response) {
      this.c = c;
      this.response = response;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      if (c.subscription(subscription)) {
        serial.execute(
            () -> {
              if (loop.isCurrent(c)) {
                c.request();
              }
            });
      }
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
      c.notWaiting();
      serial.execute(() -> onData(buffers));
    }

    @Override
    public void onError(Throwable error) {
      c.notWaiting();
      serial.execute(this::onEnd);
    }

    @Override
    public void onComplete() {
      c.notWaiting();
      serial.execute(this::onEnd);
    }

    private void onData(List<ByteBuffer> buffers) {
      if (!loop.isCurrent(c)) {
        return;
      }
      for (ByteBuffer buffer : buffers) {
        int n = Math.min(buffer.remaining(), MAX_ERROR_BODY_BYTES - body.size());
        byte[] bytes = new byte[n];
        buffer.get(bytes);
        body.write(bytes, 0, n);
      }
      if (body.size() >= MAX_ERROR_BODY_BYTES) {
        fail();
      } else {
        c.request();
      }
    }

    private void onEnd() {
      if (loop.isCurrent(c)) {
        fail();
      }
    }

    private void fail() {
      String text = new String(body.toByteArray(), StandardCharsets.UTF_8);
      loop.failConnection(c, httpError(c, response, "", text));
    }
  }

  private static void discard(HttpResponse<Flow.Publisher<List<ByteBuffer>>> response) {
    // Every body publisher must be subscribed to, or the connection leaks; cancelling closes it.
    response.body().subscribe(CANCEL);
  }

  private static final Flow.Subscriber<List<ByteBuffer>> CANCEL =
      new Flow.Subscriber<>() {
        @Override
        public void onSubscribe(Flow.Subscription subscription) {
          subscription.cancel();
        }

        @Override
        public void onNext(List<ByteBuffer> item) {}

        @Override
        public void onError(Throwable throwable) {}

        @Override
        public void onComplete() {}
      };

  private static Throwable unwrap(Throwable error) {
    while ((error instanceof CompletionException || error instanceof ExecutionException)
        && error.getCause() != null) {
      error = error.getCause();
    }
    return error;
  }

  static boolean isEventStream(String contentType) {
    int semicolon = contentType.indexOf(';');
    String mediaType = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
    return mediaType.trim().equalsIgnoreCase(EVENT_STREAM);
  }

  private static SseHttpException httpError(
      Connection c, HttpResponse<?> response, String detail, String body) {
    StringBuilder message =
        new StringBuilder()
            .append(c.method)
            .append(' ')
            .append(c.uri)
            .append(" answered ")
            .append(response.statusCode());
    if (!detail.isEmpty()) {
      message.append(' ').append(detail);
    }
    String excerpt = body.strip().replaceAll("\\s+", " ");
    if (!excerpt.isEmpty()) {
      message
          .append(": ")
          .append(excerpt.length() > 200 ? excerpt.substring(0, 200) + "..." : excerpt);
    }
    return new SseHttpException(
        message.toString(), response.statusCode(), response.headers(), c.uri, body);
  }

  private static SseContentTypeException contentTypeError(
      Connection c, HttpResponse<?> response, Optional<String> contentType) {
    String message =
        c.method
            + " "
            + c.uri
            + " answered 200 "
            + contentType
                .map(type -> "with Content-Type " + type + ", not " + EVENT_STREAM)
                .orElse("without a Content-Type, where " + EVENT_STREAM + " was expected");
    return new SseContentTypeException(message, 200, response.headers(), c.uri);
  }
}
