package dev.herald.core;

/** Thrown when an event field holds a value that cannot be written to an event stream. */
public final class InvalidEventException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String field;

  /** Creates the exception for the named field; the message names it too. */
  public InvalidEventException(String field, String problem) {
    super("Event " + field + " " + problem);
    this.field = field;
  }

  /** The refused field: {@code id}, {@code type} or {@code retry}. */
  public String field() {
    return field;
  }
}
