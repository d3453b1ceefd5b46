package dev.herald.client;

import dev.herald.core.Event;
import dev.herald.core.SseParser;
import dev.herald.core.internal.Checks;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A server-sent events client: the WHATWG {@code EventSource} processing model on {@link
 * HttpClient}, plus what a server-side client needs to run unattended.
 *
 * <p>It connects, parses the stream with {@link SseParser}, and when the connection ends or fails
 * it reconnects after the reconnection time (which the server may change with {@code retry:}),
 * sending {@code Last-Event-ID} so the server can resume exactly where the stream stopped. An event
 * cut off by a dropped connection is discarded, and so is an {@code id:} inside it. Repeated
 * failures back off exponentially, with jitter, up to a cap. A read timeout drops a connection that
 * has gone silent. A 204 No Content closes the source for good; other responses that are not an
 * event stream are errors that an {@link ErrorPolicy} decides about.
 *
 * <h2>Three ways to consume, one engine</h2>
 *
 * <p>Build a source, then consume it in exactly one of three ways. Whichever is used, the {@link
 * Builder#listener listener} (if any) and the {@link #addEventListener type listeners} also see
 * every event, and the listener sees comments, opens, errors and the close.
 *
 * <p><b>Callbacks</b>, with {@link #start()}:
 *
 * <pre>{@code
 * EventSource source = EventSource.builder(URI.create("https://example.com/events?topic=prices"))
 *     .header("Authorization", "Bearer " + token)
 *     .listener(new EventSourceListener() {
 *       public void onEvent(Event event) { System.out.println(event.type() + ": " + event.data()); }
 *       public void onError(Throwable error, Optional<Duration> retry) { log.warn("stream", error); }
 *     })
 *     .build();
 * source.addEventListener("reset", event -> reloadEverything());
 * source.start();
 * ...
 * source.close();
 * }</pre>
 *
 * <p><b>A blocking stream</b>, with {@link #events()}: at most 64 events wait in memory; past that
 * the source stops reading from the network until the consumer catches up.
 *
 * <pre>{@code
 * try (EventSource source = EventSource.builder(uri).lastEventId(savedId).build();
 *     Stream<Event> events = source.events()) {
 *   events.limit(100).forEach(event -> save(event.id(), event.data()));
 * }
 * }</pre>
 *
 * <p><b>A {@link Flow.Publisher}</b>, by {@link #subscribe subscribing} to the source: events are
 * read from the network only as the subscriber requests them.
 *
 * <pre>{@code
 * EventSource source = EventSource.builder(uri).build();
 * source.subscribe(mySubscriber); // or JdkFlowAdapter.flowPublisherToFlux(source) with Reactor
 * }</pre>
 *
 * <h2>Threading</h2>
 *
 * <p>A source uses no thread of its own. While it waits for bytes, no thread is busy on its behalf;
 * when bytes arrive, its parsing and all its callbacks run one at a time, in order, on its {@link
 * Builder#executor executor} (default: a shared pool of daemon threads that end when idle). With
 * the default executor, a thread waiting in {@link #events()}'s stream does that work itself while
 * it waits, so events need not cross threads. A callback that blocks holds up only its own source,
 * which meanwhile reads nothing more. Timers (reconnection delays, the read-timeout watchdog) share
 * one daemon thread. Sources built without {@link Builder#httpClient} share one {@link HttpClient}
 * (HTTP/1.1, redirects not followed by the client), so thousands of sources cost one selector
 * thread. {@link #close()}, {@link #restart()}, {@link #readyState()} and {@link #lastEventId()}
 * may be called from any thread, callbacks included.
 *
 * <h2>Deviations from a browser, on purpose</h2>
 *
 * <ul>
 *   <li>A 5xx response is retried with backoff (honouring {@code Retry-After}) instead of closing
 *       the source; see {@link ErrorPolicy#standard()}. Every 4xx closes it, as in browsers, unless
 *       the policy says otherwise ({@link ErrorPolicy#retryingThrottled()} retries 408 and 429).
 *   <li>Redirects follow fetch: 307/308 keep method and body, 301/302 turn a POST into a GET, 303
 *       turns anything but GET and HEAD into a GET; at most 20; a cross-origin redirect drops
 *       {@code Authorization}, {@code Cookie} and {@code Proxy-Authorization}. Reconnections go to
 *       the original URI, as in browsers.
 *   <li>A {@code Last-Event-ID} that is not printable ASCII is sent percent-encoded (each UTF-8
 *       byte outside {@code !}..{@code ~}, and {@code %}, as {@code %XX}; {@code é} becomes {@code
 *       %C3%A9}), because java.net.http cannot send raw UTF-8 header bytes: it refuses characters
 *       above U+00FF and its HTTP/1.1 encoder writes the others as {@code ?}. A warning is logged
 *       the first time. The id itself, as {@link #lastEventId()} and the events report it, is
 *       unchanged.
 * </ul>
 *
 * <p>Always {@link #close()} a source: until then it keeps a connection open or reopens one.
 */
public final class EventSource implements Flow.Publisher<Event>, AutoCloseable {
  /** Where a source is in its life, as in the browser API. */
  public enum ReadyState {
    /** Not yet connected, connecting, or waiting to reconnect. */
    CONNECTING,
    /** Connected: the server answered with an event stream. */
    OPEN,
    /** Closed for good: nothing more will happen. */
    CLOSED
  }

  private final Config config;
  private final ReconnectLoop loop;
  private final AtomicReference<String> consumedBy = new AtomicReference<>();

  private EventSource(Config config) {
    this.config = config;
    this.loop = new ReconnectLoop(config);
  }

  /**
   * Returns a builder for a source reading from {@code uri}.
   *
   * @throws IllegalArgumentException if {@code uri} is not an absolute http or https URI with a
   *     host
   */
  public static Builder builder(URI uri) {
    return new Builder(uri);
  }

  /**
   * Connects and delivers to the {@link Builder#listener listener} and the {@link #addEventListener
   * type listeners}, as fast as they take events.
   *
   * @throws IllegalStateException if the source was already started, streamed or subscribed to, or
   *     is closed
   */
  public void start() {
    claim("start()");
    loop.start(Dispatcher.NO_SINK, StreamReader.UNBOUNDED);
  }

  /**
   * Connects and returns the events as a blocking, sequential stream. At most 64 events wait in
   * memory; beyond that the source stops reading from the network until the stream is read.
   *
   * <p>The stream ends when the source closes normally (a 204, or {@link #close()}); it throws the
   * error that closed the source otherwise ({@link SseHttpException}, or an {@link
   * java.io.IOException} wrapped in an {@link java.io.UncheckedIOException}). A thread interrupted
   * while waiting gets a {@link java.util.concurrent.CancellationException} with its interrupt
   * status set. Closing the stream closes the source.
   *
   * <p>Unless the source was given an {@link Builder#executor executor}, the thread reading the
   * stream parses the bytes itself while it waits for the next event, and the listener's callbacks
   * then run on it too (still one at a time, in order); this is what makes the stream as fast as
   * the callbacks.
   *
   * @throws IllegalStateException if the source was already started, streamed or subscribed to, or
   *     is closed
   */
  public Stream<Event> events() {
    claim("events()");
    // The reader may run the source's tasks while it waits, unless they were given an executor.
    BlockingStream stream =
        new BlockingStream(config.executor() == DefaultResources.pool() ? loop.serial() : null);
    loop.start(new SubscriberSink(stream, loop), 0);
    return StreamSupport.stream(stream, false).onClose(this::close);
  }

  /**
   * Subscribes to the events and connects. The source reads from the network only while the
   * subscriber has unmet demand. It completes the subscriber when the source closes normally (a
   * 204, or {@link #close()}) and signals the error when one closes it; errors the source recovers
   * from are not signalled (use a {@link Builder#listener listener} to see them). Cancelling the
   * subscription closes the source.
   *
   * <p>A source has at most one subscriber, and is not also {@linkplain #start() started} or
   * {@linkplain #events() streamed}: any other subscriber gets an {@link IllegalStateException}
   * through {@code onError}.
   */
  @Override
  public void subscribe(Flow.Subscriber<? super Event> subscriber) {
    Objects.requireNonNull(subscriber, "subscriber");
    if (!consumedBy.compareAndSet(null, "subscribe()")) {
      subscriber.onSubscribe(
          new Flow.Subscription() {
            @Override
            public void request(long n) {}

            @Override
            public void cancel() {}
          });
      subscriber.onError(
          new IllegalStateException("EventSource already consumed by " + consumedBy.get()));
      return;
    }
    loop.start(new SubscriberSink(subscriber, loop), 0);
  }

  /**
   * Adds a listener for events of one type ({@code "message"} for events without {@code event:}),
   * like the browser's {@code addEventListener}. It may be added at any time, from any thread; it
   * sees events dispatched after it was added, on the source's callback thread. Events of every
   * type still go to the {@link Builder#listener listener} and the stream or subscriber.
   */
  public void addEventListener(String type, Consumer<? super Event> listener) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(listener, "listener");
    loop.addTypeListener(type, listener);
  }

  /**
   * Drops the connection and reconnects at once, as after a network error but without waiting and
   * without reporting an error: the {@code Last-Event-ID} is sent, a half-received event is
   * discarded. Does nothing if the source is closed or not yet started.
   */
  public void restart() {
    loop.restart();
  }

  /**
   * Closes the source: the connection (or the attempt to make one) is torn down at once, the socket
   * closed, no reconnection follows, and the listener's {@link EventSourceListener#onClosed} runs
   * once after any callback in progress. Idempotent, thread-safe, and allowed inside a callback. A
   * stream ends; a subscriber is completed.
   */
  @Override
  public void close() {
    loop.close();
  }

  /** Where the source is: {@code CONNECTING} until the first connection opens. */
  public ReadyState readyState() {
    return loop.state();
  }

  /**
   * The last event ID: the one the next connection will send as {@code Last-Event-ID}, and the one
   * events without an {@code id:} carry. Empty when there is none.
   */
  public String lastEventId() {
    return loop.lastEventId();
  }

  /** The URI the source connects to (redirects are followed anew on every connection). */
  public URI uri() {
    return config.uri();
  }

  @Override
  public String toString() {
    return "EventSource{" + config.method() + " " + config.uri() + ", " + readyState() + "}";
  }

  private void claim(String how) {
    if (!consumedBy.compareAndSet(null, how)) {
      throw new IllegalStateException("EventSource already consumed by " + consumedBy.get());
    }
    if (loop.isClosed()) {
      throw new IllegalStateException("EventSource is closed");
    }
  }

  /**
   * Configures an {@link EventSource}. Every setting has a default; only the URI is required.
   * Setters validate at once and throw {@link IllegalArgumentException} for values that could never
   * work.
   */
  public static final class Builder {
    private static final EventSourceListener NO_LISTENER = event -> {};
    private static final Set<String> NORMALISED_METHODS =
        Set.of("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT");

    private final URI uri;
    private String method = "GET";
    private byte[] body;
    private final List<Map.Entry<String, String>> headers = new ArrayList<>();
    private String lastEventId = "";
    private Duration reconnectionTime = Duration.ofSeconds(3);
    private Duration maxReconnectionDelay = Duration.ofSeconds(30);
    private Duration backoffResetAfter = Duration.ofSeconds(60);
    private Duration readTimeout = Duration.ofMinutes(5);
    private int maxEventBytes = SseParser.DEFAULT_MAX_EVENT_BYTES;
    private HttpClient httpClient;
    private Executor executor;
    private ErrorPolicy errorPolicy = ErrorPolicy.standard();
    private EventSourceListener listener = NO_LISTENER;

    private Builder(URI uri) {
      Objects.requireNonNull(uri, "uri");
      String scheme = uri.getScheme();
      if (!uri.isAbsolute()
          || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
          || uri.getHost() == null) {
        throw new IllegalArgumentException("Not an absolute http or https URI: " + uri);
      }
      this.uri = uri;
    }

    /**
     * Adds a request header, sent on every connection (repeat to add several values). {@code
     * Accept} and {@code Cache-Control} replace the defaults ({@code text/event-stream}, {@code
     * no-cache}).
     *
     * @throws IllegalArgumentException for a name or value HTTP does not allow, a header
     *     java.net.http manages itself ({@code Host}, {@code Connection}, {@code Content-Length},
     *     ...), or {@code Last-Event-ID} (set it with {@link #lastEventId})
     */
    public Builder header(String name, String value) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value");
      if (name.equalsIgnoreCase("Last-Event-ID")) {
        throw new IllegalArgumentException("Set Last-Event-ID with lastEventId(String)");
      }
      // Let java.net.http refuse now what it would refuse on every connection.
      HttpRequest.newBuilder().header(name, value);
      headers.add(new AbstractMap.SimpleImmutableEntry<>(name, value));
      return this;
    }

    /**
     * Sets the request method, without a body. Default {@code GET}.
     *
     * @throws IllegalArgumentException if it is not a valid HTTP method token
     */
    public Builder method(String method) {
      return method(method, (byte[]) null);
    }

    /**
     * Sets the request method and a body, sent (again) on every connection, as UTF-8. Without a
     * {@code Content-Type} header, {@code text/plain; charset=utf-8} is sent.
     *
     * @throws IllegalArgumentException if the method is not a valid HTTP method token
     */
    public Builder method(String method, String body) {
      Objects.requireNonNull(body, "body");
      return method(method, body.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Sets the request method and a body, sent (again) on every connection. Without a {@code
     * Content-Type} header, {@code text/plain; charset=utf-8} is sent.
     *
     * @throws IllegalArgumentException if the method is not a valid HTTP method token
     */
    public Builder method(String method, byte[] body) {
      Objects.requireNonNull(method, "method");
      HttpRequest.newBuilder().method(method, HttpRequest.BodyPublishers.noBody());
      // Fetch normalises the case of these methods only; others are case-sensitive.
      String upper = method.toUpperCase(Locale.ROOT);
      this.method = NORMALISED_METHODS.contains(upper) ? upper : method;
      this.body = body == null ? null : body.clone();
      return this;
    }

    /**
     * Sets the last event ID the first connection starts from: it is sent as {@code Last-Event-ID}
     * (when not empty) and carried by events without an {@code id:}, as if an earlier connection
     * had received it. Default empty.
     *
     * <p>An id that is not printable ASCII is sent percent-encoded; see the class documentation.
     *
     * @throws IllegalArgumentException if it contains CR, LF or NUL, which no stream can produce
     */
    public Builder lastEventId(String lastEventId) {
      Objects.requireNonNull(lastEventId, "lastEventId");
      for (int i = 0; i < lastEventId.length(); i++) {
        char c = lastEventId.charAt(i);
        if (c == '\r' || c == '\n' || c == '\0') {
          throw new IllegalArgumentException(
              "lastEventId must not contain CR, LF or NUL (found at index " + i + ")");
        }
      }
      this.lastEventId = lastEventId;
      return this;
    }

    /**
     * Sets the initial reconnection time: the wait before reconnecting after a connection ends, and
     * the base of the backoff. A {@code retry:} from the server replaces it, for every later
     * connection. Default 3 s; zero is allowed (tests).
     */
    public Builder reconnectionTime(Duration reconnectionTime) {
      this.reconnectionTime = Checks.notNegative("reconnectionTime", reconnectionTime);
      return this;
    }

    /**
     * Sets the cap of the exponential backoff after repeated failures. A reconnection time or
     * {@code Retry-After} above it is still honoured. Default 30 s.
     */
    public Builder maxReconnectionDelay(Duration maxReconnectionDelay) {
      this.maxReconnectionDelay = Checks.notNegative("maxReconnectionDelay", maxReconnectionDelay);
      return this;
    }

    /**
     * Sets how long a connection must stay open before the backoff starts again from the
     * reconnection time. Default 60 s.
     */
    public Builder backoffResetAfter(Duration backoffResetAfter) {
      this.backoffResetAfter = Checks.notNegative("backoffResetAfter", backoffResetAfter);
      return this;
    }

    /**
     * Sets the read timeout: a connection on which no byte arrives for this long (heartbeat
     * comments count) while the source is waiting for bytes is dropped and reported as an {@link
     * java.net.http.HttpTimeoutException}, then retried like any failure. It also bounds the wait
     * for the response headers. Time the source spends not reading (a slow consumer) does not
     * count. Zero turns it off. Default 5 minutes.
     */
    public Builder readTimeout(Duration readTimeout) {
      this.readTimeout = Checks.notNegative("readTimeout", readTimeout);
      return this;
    }

    /**
     * Sets the largest event (and line) accepted, in bytes. A larger one fails the connection with
     * {@link dev.herald.core.SseLimitExceededException} as soon as the limit is crossed. Default
     * {@link SseParser#DEFAULT_MAX_EVENT_BYTES} (32 MiB).
     */
    public Builder maxEventBytes(int maxEventBytes) {
      this.maxEventBytes = Checks.positive("maxEventBytes", maxEventBytes);
      return this;
    }

    /**
     * Uses this client instead of the shared default (for TLS settings, a proxy, an authenticator,
     * HTTP/2). Give it {@link HttpClient.Redirect#NEVER}, so that redirects follow the rules above;
     * a client that follows redirects itself applies its own. The source never closes the client.
     */
    public Builder httpClient(HttpClient httpClient) {
      this.httpClient = Objects.requireNonNull(httpClient, "httpClient");
      return this;
    }

    /**
     * Runs this source's parsing and callbacks on {@code executor} (one task at a time) instead of
     * the shared daemon pool.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /** Decides about reconnecting after errors. Default {@link ErrorPolicy#standard()}. */
    public Builder errorPolicy(ErrorPolicy errorPolicy) {
      this.errorPolicy = Objects.requireNonNull(errorPolicy, "errorPolicy");
      return this;
    }

    /** Receives events, comments, opens, errors and the close, whichever way events are read. */
    public Builder listener(EventSourceListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** Returns a new, not yet connected source with this configuration. */
    public EventSource build() {
      return new EventSource(
          new Config(
              uri,
              method,
              body == null ? null : body.clone(),
              List.copyOf(headers),
              lastEventId,
              reconnectionTime,
              maxReconnectionDelay,
              backoffResetAfter,
              readTimeout,
              maxEventBytes,
              httpClient != null ? httpClient : DefaultResources.httpClient(),
              executor != null ? executor : DefaultResources.pool(),
              errorPolicy,
              listener));
    }
  }
}
