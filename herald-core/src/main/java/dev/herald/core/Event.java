package dev.herald.core;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * One server-sent event: an optional id, a type, data and an optional reconnection time.
 *
 * <p>Immutable and validated on construction, so an event that exists can always be written to the
 * wire: an id may not contain CR, LF or NUL and a type may not contain CR or LF (either would let a
 * value inject fields of its own), and both refusals name the field in an {@link
 * InvalidEventException}. Data may contain any text; line breaks in it become one {@code data:}
 * line each.
 *
 * <pre>{@code
 * Event event = Event.builder().id("42").type("price").data("{\"eur\": 1.08}").build();
 * byte[] wire = SseEncoder.encode(event);
 * }</pre>
 *
 * <p>Events produced by {@link SseParser} carry the stream's last event ID at dispatch as their
 * {@link #id()} (absent when it is empty) and never a {@link #retry()}: reconnection times are
 * reported separately, as the standard treats them.
 */
public final class Event {
  /** The type an event has when none is given; it is not written on the wire. */
  public static final String DEFAULT_TYPE = "message";

  private final String id;
  private final String type;
  private final String data;
  private final Duration retry;

  private Event(Builder builder) {
    this.id = builder.id;
    this.type = builder.type;
    this.data = builder.data;
    this.retry = builder.retry;
  }

  private Event(String id, String type, String data) {
    this.id = id;
    this.type = type;
    this.data = data;
    this.retry = null;
  }

  /** An event as the parser dispatches it: its values cannot hold CR, LF or NUL, so no checks. */
  static Event parsed(String type, String data, String lastEventId) {
    return new Event(lastEventId.isEmpty() ? null : lastEventId, type, data);
  }

  /** Returns an event of type {@code message} with the given data and nothing else. */
  public static Event of(String data) {
    return builder().data(data).build();
  }

  /** Returns an event of the given type and data. */
  public static Event of(String type, String data) {
    return builder().type(type).data(data).build();
  }

  /** Returns a builder for a new event: type {@code message}, empty data, no id, no retry. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder that starts from this event's fields. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.id = id;
    builder.type = type;
    builder.data = data;
    builder.retry = retry;
    return builder;
  }

  /** Returns a copy of this event with the given id. */
  public Event withId(String id) {
    return toBuilder().id(id).build();
  }

  /**
   * The event's id. An empty string is a real value: on the wire it resets the receiver's last
   * event ID.
   */
  public Optional<String> id() {
    return Optional.ofNullable(id);
  }

  /** The event's type; {@value #DEFAULT_TYPE} unless another was given. */
  public String type() {
    return type;
  }

  /** The event's data; may be empty, may contain line breaks. */
  public String data() {
    return data;
  }

  /** The reconnection time to send with the event, in whole milliseconds on the wire. */
  public Optional<Duration> retry() {
    return Optional.ofNullable(retry);
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Event)) {
      return false;
    }
    Event other = (Event) o;
    return Objects.equals(id, other.id)
        && type.equals(other.type)
        && data.equals(other.data)
        && Objects.equals(retry, other.retry);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, type, data, retry);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("Event{");
    if (id != null) {
      s.append("id=").append(id).append(", ");
    }
    s.append("type=").append(type).append(", data=");
    if (data.length() > 64) {
      s.append(data, 0, 64).append("...(").append(data.length()).append(" chars)");
    } else {
      s.append(data);
    }
    if (retry != null) {
      s.append(", retry=").append(retry.toMillis()).append("ms");
    }
    return s.append('}').toString();
  }

  /** Builds an {@link Event}; each setter validates its value at once. */
  public static final class Builder {
    private String id;
    private String type = DEFAULT_TYPE;
    private String data = "";
    private Duration retry;

    private Builder() {}

    /**
     * Sets the id.
     *
     * @throws InvalidEventException if it contains CR, LF or NUL
     */
    public Builder id(String id) {
      Objects.requireNonNull(id, "id");
      for (int i = 0; i < id.length(); i++) {
        char c = id.charAt(i);
        if (c == '\r' || c == '\n' || c == '\0') {
          throw new InvalidEventException(
              "id", "must not contain CR, LF or NUL (found at index " + i + ")");
        }
      }
      this.id = id;
      return this;
    }

    /** Removes the id, so none is written. */
    public Builder noId() {
      this.id = null;
      return this;
    }

    /**
     * Sets the type.
     *
     * @throws InvalidEventException if it is empty or contains CR or LF
     */
    public Builder type(String type) {
      Objects.requireNonNull(type, "type");
      if (type.isEmpty()) {
        throw new InvalidEventException(
            "type", "must not be empty (use \"message\" for the default)");
      }
      for (int i = 0; i < type.length(); i++) {
        char c = type.charAt(i);
        if (c == '\r' || c == '\n') {
          throw new InvalidEventException(
              "type", "must not contain CR or LF (found at index " + i + ")");
        }
      }
      this.type = type;
      return this;
    }

    /** Sets the data; any text, line breaks included. */
    public Builder data(String data) {
      this.data = Objects.requireNonNull(data, "data");
      return this;
    }

    /**
     * Sets the reconnection time sent with the event.
     *
     * @throws InvalidEventException if it is negative
     */
    public Builder retry(Duration retry) {
      Objects.requireNonNull(retry, "retry");
      if (retry.isNegative()) {
        throw new InvalidEventException("retry", "must not be negative");
      }
      this.retry = retry;
      return this;
    }

    /** Returns the event. */
    public Event build() {
      return new Event(this);
    }
  }
}
