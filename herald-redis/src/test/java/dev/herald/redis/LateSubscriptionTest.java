package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Broker;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Redis slower than the command timeout allows a watch to wait, yet working: a stream starts before
 * Redis took its topic's SUBSCRIBE, and the events published in between reach the node through no
 * notification. The log then counts the topic's notifications as lost before the stream starts, and
 * the catch-up that follows brings those events (it used to start the stream with no gap: the
 * events in between were never announced, a silent gap in a live stream).
 */
@Timeout(60)
class LateSubscriptionTest {
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);

  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();

  @Test
  void aStreamThatStartsBeforeRedisTookItsSubscriptionGetsEveryLaterEvent() throws Exception {
    Node publisher = new Node(prefix);
    redis.closeAfter(publisher);
    CuttableProxy proxy = new CuttableProxy(Integer.parseInt(TestRedis.URI.replaceAll(".*:", "")));
    redis.closeAfter(proxy);
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(proxy.uri())
            .keyPrefix(prefix)
            .commandTimeout(COMMAND_TIMEOUT)
            .build();
    Broker broker = Broker.builder().log(log).heartbeat(Duration.ZERO).build();
    redis.closeAfter(broker);
    redis.closeAfter(log);
    Keys keys = new Keys(prefix);
    // Redis takes a second to answer the watch's first command (the sequence it reads before
    // subscribing), then does not answer the SUBSCRIBE until the test says so: the watch's own
    // bound (the command timeout plus 500 ms from its start) passes while the SUBSCRIBE waits, and
    // before Lettuce's timeout for the SUBSCRIBE (2 s from when it was sent) would fail it.
    CuttableProxy.Hold sequenceRead = proxy.hold("HGET", keys.meta);
    CuttableProxy.Hold subscribe = proxy.hold("SUBSCRIBE", keys.channel("late"));

    RecordingSink sink = new RecordingSink();
    CompletableFuture<Subscription> subscribing =
        broker.subscribeAsync(Set.of("late"), Position.live(), sink);
    assertThat(sequenceRead.awaitHolding(10, SECONDS)).as("the sequence read is held").isTrue();
    TimeUnit.MILLISECONDS.sleep(1_000); // the stall itself, not a wait for something
    sequenceRead.release();
    assertThat(subscribe.awaitHolding(10, SECONDS)).as("the SUBSCRIBE is held").isTrue();
    Subscription subscription = subscribing.get(10, SECONDS);
    redis.closeAfter(subscription::close);

    // Published while Redis has not taken the SUBSCRIBE: no notification reaches the node.
    List<Long> published = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      published.add(publish(publisher, "before " + i).id());
    }
    subscribe.release();
    for (int i = 0; i < 5; i++) {
      published.add(publish(publisher, "after " + i).id());
    }

    long last = published.get(published.size() - 1);
    assertThat(sink.await(s -> s.lastEventId() >= last, Duration.ofSeconds(15)))
        .as("the stream reaches the last event; it has %s", sink.ids())
        .isTrue();
    assertThat(sink.violations()).isEmpty();
    assertThat(sink.ids()).as("every event once, in order").containsExactlyElementsOf(published);
  }

  private static StoredEvent publish(Node node, String data) throws Exception {
    return node.broker.publish(Publication.of("late", Event.of(data))).get(10, SECONDS);
  }
}
