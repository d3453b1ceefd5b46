package dev.herald.server;

import java.util.Objects;

/**
 * Where a subscription starts: live only, after an event id, from the earliest retained event, or
 * from a position the log cannot honour ({@link Kind#UNKNOWN}), which earns the subscriber a {@code
 * reset} event before all retained history.
 *
 * <p>{@link #parse} reads a {@code Last-Event-ID} exactly as docs/design.md ("Positions") says:
 * empty means live only, {@code earliest} means all retained history, 1-19 ASCII digits (leading
 * zeros ignored) are an id, anything else is unknown.
 */
public final class Position {
  /** The kinds of position. */
  public enum Kind {
    /** Only events published from now on. */
    LIVE,
    /** Every retained event, then live. */
    EARLIEST,
    /** Every retained event after {@link #id()}, then live. */
    AFTER,
    /** Not an id this log could have assigned: {@code reset}, then every retained event. */
    UNKNOWN
  }

  private static final Position LIVE = new Position(Kind.LIVE, 0, "");
  private static final Position EARLIEST = new Position(Kind.EARLIEST, 0, "earliest");

  private final Kind kind;
  private final long id;
  private final String lastEventId;

  private Position(Kind kind, long id, String lastEventId) {
    this.kind = kind;
    this.id = id;
    this.lastEventId = lastEventId;
  }

  /** Live events only. */
  public static Position live() {
    return LIVE;
  }

  /** All retained history, then live. */
  public static Position earliest() {
    return EARLIEST;
  }

  /** Every retained event with an id above {@code id}, then live. */
  public static Position after(long id) {
    if (id < 0) {
      throw new IllegalArgumentException("id must not be negative: " + id);
    }
    return new Position(Kind.AFTER, id, Long.toString(id));
  }

  /** Reads a {@code Last-Event-ID} value as given by a client. */
  public static Position parse(String lastEventId) {
    Objects.requireNonNull(lastEventId, "lastEventId");
    if (lastEventId.isEmpty()) {
      return LIVE;
    }
    if (lastEventId.equals("earliest")) {
      return EARLIEST;
    }
    int n = lastEventId.length();
    if (n > 19) {
      return new Position(Kind.UNKNOWN, 0, lastEventId);
    }
    long value = 0;
    for (int i = 0; i < n; i++) {
      char c = lastEventId.charAt(i);
      if (c < '0' || c > '9') {
        return new Position(Kind.UNKNOWN, 0, lastEventId);
      }
      int digit = c - '0';
      if (value > (Long.MAX_VALUE - digit) / 10) {
        // 19 digits above Long.MAX_VALUE: no log ever assigned it.
        return new Position(Kind.UNKNOWN, 0, lastEventId);
      }
      value = value * 10 + digit;
    }
    return new Position(Kind.AFTER, value, lastEventId);
  }

  /** What kind of position this is. */
  public Kind kind() {
    return kind;
  }

  /** The id after which to start; meaningful for {@link Kind#AFTER} only (0 otherwise). */
  public long id() {
    return id;
  }

  /** The {@code Last-Event-ID} as the client gave it; echoed in {@code reset} events. */
  public String lastEventId() {
    return lastEventId;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Position p
        && p.kind == kind
        && p.id == id
        && p.lastEventId.equals(lastEventId);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, id, lastEventId);
  }

  @Override
  public String toString() {
    return kind == Kind.AFTER
        ? "after " + id
        : kind.name().toLowerCase(java.util.Locale.ROOT)
            + (kind == Kind.UNKNOWN ? " " + lastEventId : "");
  }
}
