package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a catch-up may skip: {@link WatchedTopics#since} is the sequence before a topic's channel
 * was subscribed, so every event whose notification the subscription brings has a higher id. (It
 * used to be read after Redis confirmed the subscription: an event published in between was
 * notified, and announced, yet counted as "never due", so a catch-up right then dropped it from a
 * live stream that had already received an earlier one.)
 */
@Timeout(60)
class WatchSinceTest {
  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  @Test
  void everyEventNotifiedAfterAWatchIsAboveItsSince() throws Exception {
    RedisEventLog publisherLog =
        RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build();
    closing.add(publisherLog);
    Connections connections =
        new Connections(TestRedis.URI, Duration.ofSeconds(2), "test", "test-worker");
    closing.add(connections::close);
    Keys keys = new Keys(prefix);
    WatchedTopics watched =
        new WatchedTopics(keys, connections, why -> CompletableFuture.completedFuture(null));
    Map<String, CompletableFuture<Long>> firstNotified = new ConcurrentHashMap<>();
    connections
        .pubSub()
        .addListener(
            new RedisPubSubAdapter<String, String>() {
              @Override
              public void message(String channel, String message) {
                firstNotified
                    .computeIfAbsent(channel, c -> new CompletableFuture<>())
                    .complete(Wire.notifications(message).get(0).id());
              }
            });

    // A steady publisher on the topic about to be watched, so events fall between Redis taking
    // the SUBSCRIBE and whatever the watch reads next.
    AtomicBoolean stop = new AtomicBoolean();
    String[] current = {"w0"};
    Thread publisher =
        new Thread(
            () -> {
              while (!stop.get()) {
                try {
                  publisherLog
                      .append(List.of(new Publication(Set.of(current[0]), Event.of("x"))))
                      .get(5, TimeUnit.SECONDS);
                } catch (Exception e) {
                  return;
                }
              }
            });
    publisher.start();
    List<String> violations = new ArrayList<>();
    try {
      for (int i = 0; i < 40; i++) {
        String topic = "w" + i;
        current[0] = topic;
        watched.watch(topic).get(5, TimeUnit.SECONDS);
        long since = watched.since().get(topic);
        long first =
            firstNotified
                .computeIfAbsent(keys.channel(topic), c -> new CompletableFuture<>())
                .get(5, TimeUnit.SECONDS);
        if (first <= since) {
          violations.add(topic + ": notified " + first + ", since " + since);
        }
      }
    } finally {
      stop.set(true);
      publisher.join(10_000);
    }
    assertThat(violations).as("events a catch-up would drop as never due").isEmpty();
  }
}
