package dev.herald.client;

import static java.lang.System.Logger.Level.DEBUG;
import static java.lang.System.Logger.Level.INFO;
import static java.lang.System.Logger.Level.WARNING;

import dev.herald.core.Event;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The life of one {@link EventSource}, whichever way it is consumed: connect; when the connection
 * fails or ends, ask the {@link ErrorPolicy}, back off and connect again, sending the last event
 * ID; until the source is closed. It holds the source's state (ready state, last event ID,
 * reconnection time, the current {@link Connection}) and the entry points the source and its
 * consumer call. The {@link Connector} takes each attempt as far as an open stream, the {@link
 * StreamReader} reads it, the {@link Dispatcher} delivers what it yields and the {@link
 * ReadTimeout} drops it if it goes silent.
 *
 * <p>State changes happen on the source's {@link SerialExecutor}; fields are confined to it unless
 * marked volatile. {@link #close()} and {@link #restart()} work from any thread: they tear the
 * current connection down at once and leave the rest to the serial executor.
 */
final class ReconnectLoop {
  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Config config;
  private final SerialExecutor serial;
  private final ScheduledExecutorService timer = DefaultResources.timer();
  private final Dispatcher dispatcher;
  private final ReadTimeout readTimeout;
  private final StreamReader reader;
  private final Connector connector;

  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile EventSource.ReadyState state = EventSource.ReadyState.CONNECTING;
  private volatile String lastEventId;
  private volatile Connection current;
  private volatile ScheduledFuture<?> pendingReconnect;

  // Confined to the serial executor.
  private Duration reconnectionTime;
  private int failures;
  private int reconnectToken;

  ReconnectLoop(Config config) {
    this.config = config;
    this.serial = new SerialExecutor(config.executor());
    this.lastEventId = config.lastEventId();
    this.reconnectionTime = config.reconnectionTime();
    this.dispatcher = new Dispatcher(config.listener());
    this.readTimeout = new ReadTimeout(timer, serial, this::failConnection);
    this.reader = new StreamReader(config, serial, this, dispatcher);
    this.connector = new Connector(config, serial, this, reader, readTimeout);
  }

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
    dispatcher.addTypeListener(type, listener);
  }

  /** Starts delivering to {@code sink} with the given initial demand. */
  void start(Dispatcher.Sink sink, long initialDemand) {
    serial.execute(
        () -> {
          reader.start(initialDemand);
          dispatcher.start(sink);
          if (!dispatcher.isFinished() && !closed.get()) {
            connect();
          }
        });
  }

  /** Adds demand (saturating); the consumer wants {@code n} more events. */
  void request(long n) {
    serial.execute(() -> reader.request(n, current));
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
          if (closed.get() || !dispatcher.isStarted()) {
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

  // ---- For the connector and the reader (serial executor) ----

  /** Whether {@code c} is the attempt in progress: signals of any other are stale. */
  boolean isCurrent(Connection c) {
    return c == current && !c.isCancelled();
  }

  /** Whether {@code c} is current and the source open to it: false once a callback closed it. */
  boolean isLive(Connection c) {
    return isCurrent(c) && !closed.get();
  }

  /** Records the id the next connection resumes from. */
  void lastEventId(String id) {
    lastEventId = id;
  }

  /** Records the server's {@code retry:}, the base of every later reconnection delay. */
  void reconnectionTime(Duration time) {
    reconnectionTime = time;
  }

  void markOpen() {
    state = EventSource.ReadyState.OPEN;
  }

  /** The current connection failed: ask the policy, then reconnect or close. */
  void failConnection(Connection c, Throwable error) {
    if (!isLive(c)) {
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
    dispatcher.error(error, Optional.of(delay));
    scheduleReconnect(delay);
  }

  /**
   * java.net.http refused to send the request of {@code c}: it would refuse it on every attempt, so
   * the source closes instead of retrying.
   */
  void refused(Connection c, RuntimeException error) {
    if (c == current) {
      stop(error);
    }
  }

  /** The server closed the source for good (a 204): no error, no reconnection. */
  void closeByServer(Connection c) {
    current = null;
    c.cancel();
    if (closed.compareAndSet(false, true)) {
      state = EventSource.ReadyState.CLOSED;
      cancelPendingReconnect();
      finish(null);
    }
  }

  // ---- Connecting, backing off, closing ----

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
      readTimeout.arm(c, config.readTimeout());
    }
    connector.send(c);
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
    dispatcher.error(error, Optional.empty());
    finish(error);
  }

  private void finish(Throwable error) {
    state = EventSource.ReadyState.CLOSED;
    dispatcher.closed(error);
  }
}
