package dev.herald.client;

import static java.lang.System.Logger.Level.DEBUG;
import static java.lang.System.Logger.Level.INFO;
import static java.lang.System.Logger.Level.WARNING;

import dev.herald.core.Event;
import dev.herald.core.SseLimitExceededException;
import dev.herald.core.SseParser;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The one engine behind every way of consuming an {@link EventSource}: connects, follows redirects,
 * parses, delivers with demand, fails, backs off and reconnects.
 *
 * <p>State changes happen on the source's {@link SerialExecutor}; fields are confined to it unless
 * marked volatile. {@link #close()} and {@link #restart()} work from any thread: they tear the
 * current connection down at once and leave the rest to the serial executor.
 *
 * <p>Reading is driven by demand: body bytes are requested only while the consumer wants events,
 * and with bounded demand the parser stops after the number of events still wanted, so no more is
 * ever produced. Beyond one buffer read ahead while the last one is parsed, unread bytes stay in
 * the socket, and TCP pushes back on the server.
 */
final class Engine {
  static final long UNBOUNDED = Long.MAX_VALUE;
  static final int MAX_REDIRECTS = 20;
  static final int MAX_ERROR_BODY_BYTES = 8 * 1024;
  private static final Duration ERROR_BODY_TIMEOUT = Duration.ofSeconds(10);
  private static final String EVENT_STREAM = "text/event-stream";

  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Config config;
  private final SerialExecutor serial;
  private final ScheduledExecutorService timer = Shared.timer();
  private final Map<String, List<Consumer<? super Event>>> typeListeners =
      new ConcurrentHashMap<>();

  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile EventSource.ReadyState state = EventSource.ReadyState.CONNECTING;
  private volatile String lastEventId;
  private volatile Connection current;
  private volatile ScheduledFuture<?> pendingReconnect;

  // Confined to the serial executor.
  private Sink sink;
  private long demand;
  private Duration reconnectionTime;
  private int failures;
  private int reconnectToken;
  private boolean finished;
  private Throwable terminalError;
  private boolean warnedAboutId;

  Engine(Config config) {
    this.config = config;
    this.serial = new SerialExecutor(config.executor());
    this.lastEventId = config.lastEventId();
    this.reconnectionTime = config.reconnectionTime();
  }

  /** Where delivered events go besides the listener: a subscriber, or nowhere. */
  interface Sink {
    /** Called first, on the serial executor. */
    default void onStart() {}

    void onEvent(Event event);

    /** Called once: {@code error} is null when the source closed normally. */
    void onTerminated(Throwable error);
  }

  static final Sink NO_SINK =
      new Sink() {
        @Override
        public void onEvent(Event event) {}

        @Override
        public void onTerminated(Throwable error) {}
      };

  // ---- Entry points (any thread) ----

  EventSource.ReadyState state() {
    return state;
  }

  String lastEventId() {
    return lastEventId;
  }

  boolean isClosed() {
    return closed.get();
  }

  /** The executor every task of this source runs on, one at a time. */
  SerialExecutor serial() {
    return serial;
  }

  void addTypeListener(String type, Consumer<? super Event> listener) {
    typeListeners.computeIfAbsent(type, t -> new CopyOnWriteArrayList<>()).add(listener);
  }

  /** Starts delivering to {@code sink} with the given initial demand. */
  void start(Sink sink, long initialDemand) {
    serial.execute(
        () -> {
          this.sink = sink;
          this.demand = initialDemand;
          sink.onStart();
          if (finished) {
            sink.onTerminated(terminalError);
          } else if (!closed.get()) {
            connect();
          }
        });
  }

  /** Adds demand (saturating); the consumer wants {@code n} more events. */
  void request(long n) {
    serial.execute(
        () -> {
          if (demand != UNBOUNDED) {
            demand = n >= UNBOUNDED - demand ? UNBOUNDED : demand + n;
          }
          Connection c = current;
          if (c != null && c.open) {
            pump(c);
          }
        });
  }

  void restart() {
    if (closed.get()) {
      return;
    }
    // Drop at once, so nothing more of the old connection is delivered; reconnect in order.
    Connection c = current;
    if (c != null) {
      c.cancel();
    }
    serial.execute(
        () -> {
          if (closed.get() || sink == null) {
            return;
          }
          cancelPendingReconnect();
          reconnectToken++;
          Connection old = current;
          if (old != null) {
            old.cancel();
          }
          current = null;
          state = EventSource.ReadyState.CONNECTING;
          LOG.log(DEBUG, "Restarting event source {0}", config.uri());
          connect();
        });
  }

  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    state = EventSource.ReadyState.CLOSED;
    Connection c = current;
    if (c != null) {
      c.cancel();
    }
    cancelPendingReconnect();
    serial.execute(() -> finish(null));
  }

  /** Closes the source because of {@code error}, without asking the error policy. */
  void fail(Throwable error) {
    serial.execute(() -> stop(error));
  }

  // ---- Connecting ----

  private void connect() {
    if (closed.get()) {
      return;
    }
    Connection c = new Connection(config.uri(), config.method(), config.body());
    current = c;
    // close() publishes `closed` before reading `current`; we publish `current` before reading
    // `closed`: one of us sees the other, so the connection cannot outlive a close.
    if (closed.get()) {
      c.cancel();
      return;
    }
    if (!config.readTimeout().isZero()) {
      armWatchdog(c, config.readTimeout().toNanos());
    }
    send(c);
  }

  private void send(Connection c) {
    HttpRequest request;
    CompletableFuture<HttpResponse<Flow.Publisher<List<ByteBuffer>>>> exchange;
    try {
      request = request(c);
      LOG.log(DEBUG, "Event source request: {0} {1}", c.method, c.uri);
      c.waiting();
      exchange = config.httpClient().sendAsync(request, HttpResponse.BodyHandlers.ofPublisher());
    } catch (RuntimeException e) {
      // A request java.net.http refuses would be refused on every attempt: not worth retrying.
      if (c == current) {
        stop(e);
      }
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
      String name = header.getKey();
      if (c.bodyHeadersDropped && isBodyHeader(name)) {
        continue;
      }
      if (c.credentialsDropped && isCredentialHeader(name)) {
        continue;
      }
      builder.header(name, header.getValue());
    }
    if (c.body != null && !config.hasHeader("Content-Type")) {
      builder.header("Content-Type", "text/plain; charset=utf-8");
    }
    String id = lastEventId;
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
    if (c != current || c.isCancelled()) {
      if (response != null) {
        discard(response);
      }
      return;
    }
    if (error != null) {
      failConnection(c, unwrap(error));
      return;
    }
    int status = response.statusCode();
    if (isRedirect(status)) {
      discard(response);
      redirect(c, response);
    } else if (status == 204) {
      discard(response);
      LOG.log(DEBUG, "Event source {0} answered 204 No Content: closing", c.uri);
      current = null;
      c.cancel();
      closeQuietly(null);
    } else if (status != 200) {
      // Read the start of the body: error bodies say why ({"error": "topic_not_allowed"}).
      c.errorResponse = response;
      c.errorBody = new ByteArrayOutputStream();
      if (config.readTimeout().isZero()) {
        armWatchdog(c, ERROR_BODY_TIMEOUT.toNanos());
      }
      response.body().subscribe(new BodySubscriber(c));
    } else {
      Optional<String> contentType = response.headers().firstValue("Content-Type");
      if (contentType.map(Engine::isEventStream).orElse(false)) {
        open(c, response);
      } else {
        discard(response);
        failConnection(c, contentTypeError(c, response, contentType));
      }
    }
  }

  private void redirect(Connection c, HttpResponse<?> response) {
    int status = response.statusCode();
    Optional<String> location = response.headers().firstValue("Location");
    if (location.isEmpty()) {
      failConnection(c, httpError(c, response, "without a Location header", ""));
      return;
    }
    Optional<URI> target = resolve(c.uri, location.get());
    if (target.isEmpty()) {
      failConnection(c, httpError(c, response, "with an unusable Location: " + location.get(), ""));
      return;
    }
    if (++c.redirects > MAX_REDIRECTS) {
      failConnection(c, httpError(c, response, "after " + MAX_REDIRECTS + " redirects", ""));
      return;
    }
    // Fetch: 301/302 turn POST into GET, 303 turns everything but GET and HEAD into GET; the body
    // and its headers go. 307/308 keep method and body.
    boolean toGet =
        ((status == 301 || status == 302) && c.method.equals("POST"))
            || (status == 303 && !c.method.equals("GET") && !c.method.equals("HEAD"));
    if (toGet) {
      c.method = "GET";
      c.body = null;
      c.bodyHeadersDropped = true;
    }
    // Fetch drops Authorization on a cross-origin redirect; cookies and proxy credentials too.
    if (!sameOrigin(c.uri, target.get())) {
      c.credentialsDropped = true;
    }
    LOG.log(DEBUG, "Event source {0} redirected ({1}) to {2}", c.uri, status, target.get());
    c.uri = target.get();
    send(c);
  }

  private void open(Connection c, HttpResponse<Flow.Publisher<List<ByteBuffer>>> response) {
    c.parser =
        SseParser.builder()
            .lastEventId(lastEventId)
            .maxEventBytes(config.maxEventBytes())
            .maxLineBytes(config.maxEventBytes())
            .build(new ParserHandler(c));
    c.open = true;
    c.openedAtNanos = System.nanoTime();
    c.notWaiting();
    state = EventSource.ReadyState.OPEN;
    // Subscribe first: a listener that closes the source in onOpen still releases the body.
    // Nothing is requested before the subscription is handed to the serial executor.
    response.body().subscribe(new BodySubscriber(c));
    LOG.log(DEBUG, "Event source {0} is open", c.uri);
    OpenResponse info =
        new OpenResponse(response.statusCode(), response.headers(), response.version());
    notifyListener(listener -> listener.onOpen(info));
  }

  // ---- Reading ----

  /** Receives one connection's body; every signal goes to the serial executor. */
  private final class BodySubscriber implements Flow.Subscriber<List<ByteBuffer>> {
    private final Connection c;

    BodySubscriber(Connection c) {
      this.c = c;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      if (c.subscription(subscription)) {
        serial.execute(() -> onSubscribed(c));
      }
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
      c.notWaiting();
      serial.execute(() -> onData(c, buffers));
    }

    @Override
    public void onError(Throwable error) {
      c.notWaiting();
      serial.execute(() -> onBodyEnd(c, error));
    }

    @Override
    public void onComplete() {
      c.notWaiting();
      serial.execute(() -> onBodyEnd(c, null));
    }
  }

  private void onSubscribed(Connection c) {
    if (c != current || c.isCancelled()) {
      return;
    }
    if (c.errorBody != null) {
      c.requested = c.request();
    } else {
      pump(c);
    }
  }

  private void onData(Connection c, List<ByteBuffer> buffers) {
    if (c != current || c.isCancelled()) {
      return;
    }
    c.requested = false;
    if (c.errorBody != null) {
      for (ByteBuffer buffer : buffers) {
        int n = Math.min(buffer.remaining(), MAX_ERROR_BODY_BYTES - c.errorBody.size());
        byte[] bytes = new byte[n];
        buffer.get(bytes);
        c.errorBody.write(bytes, 0, n);
      }
      if (c.errorBody.size() >= MAX_ERROR_BODY_BYTES) {
        failWithErrorBody(c);
      } else {
        c.requested = c.request();
      }
      return;
    }
    for (ByteBuffer buffer : buffers) {
      if (buffer.hasRemaining()) {
        c.pending.add(buffer);
      }
    }
    pump(c);
  }

  private void onBodyEnd(Connection c, Throwable error) {
    if (c != current || c.isCancelled()) {
      return;
    }
    c.requested = false;
    if (c.errorBody != null) {
      failWithErrorBody(c);
      return;
    }
    // Bytes that arrived before the end still count: parse them (as demand allows) first.
    c.endCause = error != null ? error : new EOFException("The server ended the stream");
    pump(c);
  }

  /** Parses pending bytes while there is demand, then asks for more or acts on the end. */
  private void pump(Connection c) {
    try {
      while (demand > 0 && !c.pending.isEmpty()) {
        if (c != current || c.isCancelled() || closed.get()) {
          return;
        }
        ByteBuffer buffer = c.pending.peek();
        if (c.pending.size() == 1 && !c.requested && c.endCause == null) {
          // Ask for the next bytes before parsing the last ones held, so that they arrive while
          // these are parsed instead of after: one buffer of read-ahead, no wait for each.
          c.requested = c.request();
        }
        if (demand == UNBOUNDED) {
          c.parser.feed(buffer);
        } else {
          // The parser stops right after the last event wanted; the rest waits in the buffer.
          c.parser.feed(buffer, (int) Math.min(demand, Integer.MAX_VALUE));
        }
        if (c == current && !c.isCancelled()) {
          lastEventId = c.parser.lastEventId();
        }
        if (!buffer.hasRemaining()) {
          c.pending.poll();
        }
      }
    } catch (SseLimitExceededException e) {
      failConnection(c, e);
      return;
    }
    if (c != current || c.isCancelled() || closed.get() || !c.pending.isEmpty()) {
      return;
    }
    if (c.endCause != null) {
      failConnection(c, c.endCause);
    } else if (demand > 0 && !c.requested) {
      c.requested = c.request();
    }
  }

  private final class ParserHandler implements SseParser.Handler {
    private final Connection c;

    ParserHandler(Connection c) {
      this.c = c;
    }

    /** False once a callback closed or restarted the source: the rest of a buffer is dropped. */
    private boolean live() {
      return c == current && !c.isCancelled() && !closed.get();
    }

    @Override
    public void onEvent(Event event) {
      if (!live()) {
        return;
      }
      lastEventId = c.parser.lastEventId();
      if (demand != UNBOUNDED) {
        demand--;
      }
      notifyListener(listener -> listener.onEvent(event));
      List<Consumer<? super Event>> listeners = typeListeners.get(event.type());
      if (listeners != null) {
        for (Consumer<? super Event> listener : listeners) {
          try {
            listener.accept(event);
          } catch (RuntimeException e) {
            LOG.log(WARNING, "Event listener for type " + event.type() + " threw; ignored", e);
          }
        }
      }
      sink.onEvent(event);
    }

    @Override
    public void onComment(String comment) {
      if (live()) {
        notifyListener(listener -> listener.onComment(comment));
      }
    }

    @Override
    public void onRetry(Duration time) {
      if (live()) {
        reconnectionTime = time;
      }
    }
  }

  // ---- Failing, backing off, reconnecting ----

  private void failWithErrorBody(Connection c) {
    HttpResponse<?> response = c.errorResponse;
    String body = new String(c.errorBody.toByteArray(), StandardCharsets.UTF_8);
    failConnection(c, httpError(c, response, "", body));
  }

  /** The current connection failed: ask the policy, then reconnect or close. */
  private void failConnection(Connection c, Throwable error) {
    if (c != current || c.isCancelled() || closed.get()) {
      return;
    }
    current = null;
    c.cancel();
    long now = System.nanoTime();
    if (c.open && now - c.openedAtNanos >= config.backoffResetAfter().toNanos()) {
      failures = 0;
    }
    Duration suggested =
        error instanceof SseHttpException
            ? ((SseHttpException) error)
                .retryAfter()
                .orElseGet(() -> backoff(reconnectionTime, failures))
            : backoff(reconnectionTime, failures);
    if (failures < Integer.MAX_VALUE) {
      failures++;
    }
    Optional<Duration> decision;
    try {
      decision = Objects.requireNonNull(config.errorPolicy().retryDelay(error, suggested));
    } catch (RuntimeException e) {
      LOG.log(WARNING, "Error policy threw; closing the event source", e);
      decision = Optional.empty();
    }
    if (decision.isEmpty()) {
      stop(error);
      return;
    }
    Duration delay = Backoff.clamp(decision.get());
    state = EventSource.ReadyState.CONNECTING;
    LOG.log(
        INFO,
        "Event source {0} failed ({1}); reconnecting in {2} ms",
        config.uri(),
        error.toString(),
        delay.toMillis());
    Optional<Duration> retry = Optional.of(delay);
    notifyListener(listener -> listener.onError(error, retry));
    scheduleReconnect(delay);
  }

  private Duration backoff(Duration base, int failures) {
    return Backoff.delay(
        base, config.maxReconnectionDelay(), failures, ThreadLocalRandom.current().nextDouble());
  }

  private void scheduleReconnect(Duration delay) {
    int token = ++reconnectToken;
    Runnable reconnect =
        () -> {
          if (token == reconnectToken && current == null && !closed.get()) {
            connect();
          }
        };
    if (delay.isZero()) {
      serial.execute(reconnect);
      return;
    }
    ScheduledFuture<?> scheduled =
        timer.schedule(() -> serial.execute(reconnect), delay.toMillis(), TimeUnit.MILLISECONDS);
    pendingReconnect = scheduled;
    if (closed.get()) {
      scheduled.cancel(false);
    }
  }

  private void cancelPendingReconnect() {
    ScheduledFuture<?> scheduled = pendingReconnect;
    if (scheduled != null) {
      scheduled.cancel(false);
      pendingReconnect = null;
    }
  }

  /** Closes for good after {@code error}, which the listener hears about first. */
  private void stop(Throwable error) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    state = EventSource.ReadyState.CLOSED;
    Connection c = current;
    current = null;
    if (c != null) {
      c.cancel();
    }
    cancelPendingReconnect();
    LOG.log(WARNING, "Event source {0} closed after an error: {1}", config.uri(), error.toString());
    notifyListener(listener -> listener.onError(error, Optional.empty()));
    finish(error);
  }

  /** Closes for good without an error (a 204). */
  private void closeQuietly(Throwable error) {
    if (closed.compareAndSet(false, true)) {
      state = EventSource.ReadyState.CLOSED;
      cancelPendingReconnect();
      finish(error);
    }
  }

  private void finish(Throwable error) {
    if (finished) {
      return;
    }
    finished = true;
    terminalError = error;
    state = EventSource.ReadyState.CLOSED;
    notifyListener(EventSourceListener::onClosed);
    if (sink != null) {
      sink.onTerminated(error);
    }
  }

  // ---- Watchdog ----

  /**
   * Checks, on the shared timer, that the connection has not waited for bytes longer than {@code
   * timeoutNanos}. Time spent not asking for bytes (a slow consumer) does not count. One task per
   * connection at a time, rescheduled for the remaining time, instead of one per byte.
   */
  private void armWatchdog(Connection c, long timeoutNanos) {
    c.watchdog(
        timer.schedule(() -> checkIdle(c, timeoutNanos), timeoutNanos, TimeUnit.NANOSECONDS));
  }

  private void checkIdle(Connection c, long timeoutNanos) {
    if (c.isCancelled()) {
      return;
    }
    long waited = c.waitedNanos(System.nanoTime());
    if (waited >= timeoutNanos) {
      HttpTimeoutException timeout =
          new HttpTimeoutException(
              "No data from "
                  + c.uri
                  + " for "
                  + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                  + " ms (read timeout)");
      serial.execute(() -> failConnection(c, timeout));
      return;
    }
    long next = waited < 0 ? timeoutNanos : timeoutNanos - waited;
    c.watchdog(timer.schedule(() -> checkIdle(c, timeoutNanos), next, TimeUnit.NANOSECONDS));
  }

  // ---- Helpers ----

  private void notifyListener(Consumer<EventSourceListener> call) {
    try {
      call.accept(config.listener());
    } catch (RuntimeException e) {
      LOG.log(WARNING, "EventSource listener threw; ignored", e);
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

  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  private static Optional<URI> resolve(URI base, String location) {
    try {
      URI target = base.resolve(new URI(location.trim()));
      String scheme = target.getScheme();
      if (scheme == null
          || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
          || target.getHost() == null) {
        return Optional.empty();
      }
      // The fragment is never sent; a request URI with one is refused by some servers.
      if (target.getRawFragment() != null) {
        target = new URI(target.getScheme(), target.getRawSchemeSpecificPart(), null);
      }
      // Whatever java.net.http would refuse on every attempt is unusable now.
      HttpRequest.newBuilder(target);
      return Optional.of(target);
    } catch (URISyntaxException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equalsIgnoreCase(b.getScheme())
        && a.getHost().equalsIgnoreCase(b.getHost())
        && port(a) == port(b);
  }

  private static int port(URI uri) {
    if (uri.getPort() >= 0) {
      return uri.getPort();
    }
    return uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
  }

  private static boolean isBodyHeader(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.equals("content-type")
        || lower.equals("content-encoding")
        || lower.equals("content-language")
        || lower.equals("content-location");
  }

  private static boolean isCredentialHeader(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.equals("authorization")
        || lower.equals("cookie")
        || lower.equals("proxy-authorization");
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

  /** What {@link EventSourceListener#onOpen} is given. */
  private record OpenResponse(int statusCode, HttpHeaders headers, HttpClient.Version version)
      implements HttpResponse.ResponseInfo {}
}
