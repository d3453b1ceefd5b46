package dev.herald.client;

import static java.lang.System.Logger.Level.WARNING;

import dev.herald.core.Event;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Hands what a source produces to everyone who consumes it: the {@link EventSourceListener}, the
 * type listeners and the {@link Sink} (a subscriber or a blocking stream). A callback that throws
 * is logged and skipped, so that one broken consumer neither stops the source nor keeps the others
 * from hearing.
 *
 * <p>Called on the source's serial executor only, except {@link #addTypeListener}, which any thread
 * may call at any time.
 */
final class Dispatcher {
  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

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

  private final EventSourceListener listener;
  private final Map<String, List<Consumer<? super Event>>> typeListeners =
      new ConcurrentHashMap<>();

  // Confined to the serial executor.
  private Sink sink;
  private boolean finished;
  private Throwable terminalError;

  Dispatcher(EventSourceListener listener) {
    this.listener = listener;
  }

  void addTypeListener(String type, Consumer<? super Event> listener) {
    typeListeners.computeIfAbsent(type, t -> new CopyOnWriteArrayList<>()).add(listener);
  }

  /**
   * Starts delivering to {@code sink}. A sink that arrives after the source closed (a subscriber of
   * a source closed meanwhile) still hears how it ended.
   */
  void start(Sink sink) {
    this.sink = sink;
    sink.onStart();
    if (finished) {
      sink.onTerminated(terminalError);
    }
  }

  /** Whether a consumer has started: until then there is nothing to restart. */
  boolean isStarted() {
    return sink != null;
  }

  /** Whether the source has closed for good and its consumers were told. */
  boolean isFinished() {
    return finished;
  }

  void opened(HttpResponse.ResponseInfo response) {
    notifyListener(l -> l.onOpen(response));
  }

  void event(Event event) {
    notifyListener(l -> l.onEvent(event));
    List<Consumer<? super Event>> listeners = typeListeners.get(event.type());
    if (listeners != null) {
      for (Consumer<? super Event> typeListener : listeners) {
        try {
          typeListener.accept(event);
        } catch (RuntimeException e) {
          LOG.log(WARNING, "Event listener for type " + event.type() + " threw; ignored", e);
        }
      }
    }
    sink.onEvent(event);
  }

  void comment(String comment) {
    notifyListener(l -> l.onComment(comment));
  }

  void error(Throwable error, Optional<Duration> retry) {
    notifyListener(l -> l.onError(error, retry));
  }

  /** The source closed for good, after {@code error} or (null) normally: told once. */
  void closed(Throwable error) {
    if (finished) {
      return;
    }
    finished = true;
    terminalError = error;
    notifyListener(EventSourceListener::onClosed);
    if (sink != null) {
      sink.onTerminated(error);
    }
  }

  private void notifyListener(Consumer<EventSourceListener> call) {
    try {
      call.accept(listener);
    } catch (RuntimeException e) {
      LOG.log(WARNING, "EventSource listener threw; ignored", e);
    }
  }
}
