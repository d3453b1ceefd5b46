package dev.herald.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A parser handler that records everything it is told, in order, as comparable values. */
final class Recorder implements SseParser.Handler {
  /** One thing the parser reported. */
  sealed interface Seen permits Ev, Cm, Rt {}

  /** A dispatched event; {@code id} is the last event ID at dispatch, "" when absent. */
  record Ev(String type, String data, String id) implements Seen {
    @Override
    public String toString() {
      return "Ev[type="
          + Escape.of(type)
          + ", data="
          + Escape.of(data)
          + ", id="
          + Escape.of(id)
          + "]";
    }
  }

  /** A comment's text. */
  record Cm(String text) implements Seen {
    @Override
    public String toString() {
      return "Cm[" + Escape.of(text) + "]";
    }
  }

  /** A reconnection time, in milliseconds. */
  record Rt(long millis) implements Seen {}

  final List<Seen> seen = new ArrayList<>();

  static Ev ev(String data) {
    return new Ev(Event.DEFAULT_TYPE, data, "");
  }

  static Ev ev(String type, String data, String id) {
    return new Ev(type, data, id);
  }

  static Cm cm(String text) {
    return new Cm(text);
  }

  static Rt rt(long millis) {
    return new Rt(millis);
  }

  @Override
  public void onEvent(Event event) {
    // A parsed event never carries a retry: reconnection times come through onRetry.
    if (event.retry().isPresent()) {
      throw new AssertionError("parsed event with a retry: " + event);
    }
    if (event.id().isPresent() && event.id().get().isEmpty()) {
      throw new AssertionError("parsed event with an empty (rather than absent) id: " + event);
    }
    seen.add(new Ev(event.type(), event.data(), event.id().orElse("")));
  }

  @Override
  public void onComment(String comment) {
    seen.add(new Cm(comment));
  }

  @Override
  public void onRetry(Duration reconnectionTime) {
    seen.add(new Rt(reconnectionTime.toMillis()));
  }

  List<Ev> events() {
    List<Ev> events = new ArrayList<>();
    for (Seen s : seen) {
      if (s instanceof Ev e) {
        events.add(e);
      }
    }
    return events;
  }
}
