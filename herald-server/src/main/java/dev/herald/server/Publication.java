package dev.herald.server;

import dev.herald.core.Event;
import java.util.Objects;
import java.util.Set;

/**
 * An event to publish and the topics to publish it to; the log assigns its id. An event published
 * to several topics has one id and reaches a subscriber of several of them once.
 *
 * @param topics the topics, checked by {@link Topics#checkAll}
 * @param event the event; its id, if any, is replaced by the one the log assigns
 */
public record Publication(Set<String> topics, Event event) {
  /** Checks the topics and the event. */
  public Publication {
    topics = Topics.checkAll(Objects.requireNonNull(topics, "topics"));
    Objects.requireNonNull(event, "event");
  }

  /** A publication of {@code event} to one topic. */
  public static Publication of(String topic, Event event) {
    return new Publication(Set.of(topic), event);
  }
}
