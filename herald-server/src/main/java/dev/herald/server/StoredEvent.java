package dev.herald.server;

import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import dev.herald.core.internal.Checks;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * An event the log has stored: its assigned id, its topics, when it was stored, and its wire frame,
 * encoded once and shared by every connection it is written to.
 */
public final class StoredEvent {
  private final long id;
  private final Set<String> topics;
  private final Event event;
  private final Instant timestamp;
  private volatile byte[] frame;

  private StoredEvent(long id, Set<String> topics, Event event, Instant timestamp) {
    this.id = id;
    this.topics = topics;
    this.event = event;
    this.timestamp = timestamp;
  }

  /**
   * Returns the stored form of an event: {@code event}'s id becomes the decimal {@code id}.
   *
   * @param id the id the log assigned, positive
   */
  public static StoredEvent of(long id, Set<String> topics, Event event, Instant timestamp) {
    Checks.positive("id", id);
    return new StoredEvent(
        id,
        Set.copyOf(topics),
        event.withId(Long.toString(id)),
        Objects.requireNonNull(timestamp, "timestamp"));
  }

  /** The id the log assigned: strictly increasing within one log. */
  public long id() {
    return id;
  }

  /** The topics the event was published to. */
  public Set<String> topics() {
    return topics;
  }

  /** The event, with its id set. */
  public Event event() {
    return event;
  }

  /** When the log stored it; retention by age counts from here. */
  public Instant timestamp() {
    return timestamp;
  }

  /**
   * The event's wire frame. Encoded on first use and then shared: callers must not modify the
   * array.
   */
  public byte[] frame() {
    byte[] f = frame;
    if (f == null) {
      // A race encodes twice and keeps either copy: identical bytes, no lock on the hot path.
      f = SseEncoder.encode(event);
      frame = f;
    }
    return f;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StoredEvent e
        && e.id == id
        && e.topics.equals(topics)
        && e.event.equals(event)
        && e.timestamp.equals(timestamp);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(id);
  }

  @Override
  public String toString() {
    return "StoredEvent{" + id + " " + topics + " " + event + "}";
  }
}
