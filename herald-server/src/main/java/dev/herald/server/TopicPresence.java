package dev.herald.server;

import dev.herald.core.internal.Checks;
import java.util.List;
import java.util.Objects;

/**
 * Who is connected to a topic: the answer of {@link Broker#presence(String)}.
 *
 * @param topic the topic
 * @param devices the open device streams covering it, oldest first (then by device id)
 * @param subscriptions how many open subscriptions cover it, with or without a device
 */
public record TopicPresence(String topic, List<DeviceStream> devices, int subscriptions) {
  /** Checks the parts; copies the list. */
  public TopicPresence {
    Objects.requireNonNull(topic, "topic");
    devices = List.copyOf(devices);
    Checks.notNegative("subscriptions", subscriptions);
  }
}
