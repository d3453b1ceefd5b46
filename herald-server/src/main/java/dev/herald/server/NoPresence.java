package dev.herald.server;

import dev.herald.server.spi.Presence;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** The presence of a broker on its own: no other node to tell or ask. */
final class NoPresence implements Presence {
  static final NoPresence INSTANCE = new NoPresence();

  private NoPresence() {}

  @Override
  public void bind(Local local) {}

  @Override
  public void opened(Stream stream) {}

  @Override
  public void closed(Stream stream) {}

  @Override
  public void subscriptionsChanged(String topic) {}

  @Override
  public CompletableFuture<TopicPresence> remote(String topic) {
    return CompletableFuture.completedFuture(new TopicPresence(topic, List.of(), 0));
  }

  @Override
  public CompletableFuture<Map<String, Integer>> remoteSubscriptionCounts(Set<String> topics) {
    return CompletableFuture.completedFuture(Map.of());
  }

  @Override
  public void close() {}
}
