package dev.herald.redis;

import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.Presence;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;

/**
 * A node's side of a {@link Presence} for tests that drive a {@link RedisPresence} without a
 * broker: no device streams of its own, the same subscription count on every topic, and a record of
 * each "your stream was replaced" it hears, described by the test.
 */
final class ReplacementRecorder implements Presence.Local {
  /** What was heard, in order, as the test's descriptions of (stream key, token). */
  final List<String> replaced = new CopyOnWriteArrayList<>();

  private final int subscriptionsPerTopic;
  private final BiFunction<CursorKey, String, String> describe;

  ReplacementRecorder(int subscriptionsPerTopic, BiFunction<CursorKey, String, String> describe) {
    this.subscriptionsPerTopic = subscriptionsPerTopic;
    this.describe = describe;
  }

  @Override
  public int subscriptionCount(String topic) {
    return subscriptionsPerTopic;
  }

  @Override
  public Map<String, Integer> subscriptionCounts() {
    return Map.of();
  }

  @Override
  public List<Presence.Stream> deviceStreams() {
    return List.of();
  }

  @Override
  public void replaced(CursorKey key, String streamId) {
    replaced.add(describe.apply(key, streamId));
  }
}
