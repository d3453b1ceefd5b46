package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One publish call notifies in runs (publish.lua): consecutive events with the same topics share
 * one message per topic, and the runs go out in id order, so that a node watching several topics
 * hears every event once and in order although it drops what is at or below the newest id it
 * announced.
 */
class NotificationRunsTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final Keys keys = new Keys(prefix);

  private RedisEventLog open() {
    RedisEventLog log = RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build();
    redis.closeAfter(log);
    return log;
  }

  private static Publication on(Set<String> topics, String data) {
    return new Publication(topics, Event.of(data));
  }

  @Test
  void aNodeWatchingSeveralTopicsHearsEveryEventOfInterleavedRunsOnceInOrder() throws Exception {
    RawRedis raw = new RawRedis(TestRedis.URI);
    redis.closeAfter(raw);
    BlockingQueue<String> onA = new LinkedBlockingQueue<>();
    var pubSub = raw.pubSub();
    pubSub.addListener(
        new RedisPubSubAdapter<String, String>() {
          @Override
          public void message(String channel, String message) {
            onA.add(message);
          }
        });
    pubSub.sync().subscribe(keys.channel("a"));

    RedisEventLog publisher = open();
    RedisEventLog watcher = open();
    Announcements heard = new Announcements();
    watcher.listener(heard);
    watcher.watch("a").get(10, SECONDS);
    watcher.watch("b").get(10, SECONDS);

    // One append, so one script call: runs a+b | b | a a | a+b | b b | a
    List<StoredEvent> stored =
        publisher
            .append(
                List.of(
                    on(Set.of("a", "b"), "1"),
                    on(Set.of("b"), "2"),
                    on(Set.of("a"), "3"),
                    on(Set.of("a"), "4"),
                    on(Set.of("a", "b"), "5"),
                    on(Set.of("b"), "6"),
                    on(Set.of("b"), "7"),
                    on(Set.of("a"), "8")))
            .get(10, SECONDS);
    List<Long> ids = stored.stream().map(StoredEvent::id).toList();

    heard.awaitUntil(events -> events.size() >= 8, Duration.ofSeconds(10), "all 8 events");
    assertThat(heard.ids()).containsExactlyElementsOf(ids);
    assertThat(heard.events())
        .extracting(e -> e.event().data())
        .containsExactly("1", "2", "3", "4", "5", "6", "7", "8");

    // Topic a's channel: the runs with a, one message each, in order: [1], [3, 4], [5], [8].
    List<List<Long>> messages = new ArrayList<>();
    while (messages.stream().mapToInt(List::size).sum() < 5) {
      String payload = onA.poll(10, SECONDS);
      assertThat(payload).as("a notification on a, after %s", messages).isNotNull();
      messages.add(Wire.notifications(payload).stream().map(StoredEvent::id).toList());
    }
    assertThat(messages)
        .containsExactly(
            List.of(ids.get(0)),
            List.of(ids.get(2), ids.get(3)),
            List.of(ids.get(4)),
            List.of(ids.get(7)));
  }
}
