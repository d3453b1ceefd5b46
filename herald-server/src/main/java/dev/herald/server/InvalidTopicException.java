package dev.herald.server;

/** Thrown when a topic name, or a set of topics, breaks the rules of {@link Topics}. */
public final class InvalidTopicException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String topic;

  /** Creates the exception; {@code problem} is a sentence that says what to fix. */
  public InvalidTopicException(String topic, String problem) {
    super(problem);
    this.topic = topic;
  }

  /** The offending topic (empty when the set as a whole is wrong). */
  public String topic() {
    return topic;
  }
}
