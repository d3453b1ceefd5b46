package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The herald-server broker on Redis logs: two nodes, as two hub processes behind a balancer. */
@Timeout(60)
class BrokerOnRedisTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final Node a = new Node(redis.prefix());
  private final Node b = new Node(redis.prefix());

  {
    // The last added closes first: a, then b.
    redis.closeAfter(b);
    redis.closeAfter(a);
  }

  @Test
  void publishedOnOneNodeReachesSubscribersOfBothNodesOnceInOrder() throws Exception {
    RecordingSink onB = new RecordingSink();
    RecordingSink onA = new RecordingSink();
    Subscription subB = b.subscribe(Set.of("a", "b"), Position.live(), onB);
    Subscription subA = a.subscribe(Set.of("b"), Position.live(), onA);
    List<Set<String>> targets = List.of(Set.of("a"), Set.of("b"), Set.of("a", "b"), Set.of("c"));
    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      Node publisher = i % 3 == 0 ? b : a;
      published.add(
          publisher
              .broker
              .publish(new Publication(targets.get(i % 4), Event.of("e" + i)))
              .get(10, SECONDS));
    }
    List<Long> aOrB = idsOf(published, "a", "b");
    List<Long> onlyB = idsOf(published, "b");

    assertThat(onB.await(s -> s.ids().size() >= aOrB.size(), Duration.ofSeconds(10))).isTrue();
    assertThat(onA.await(s -> s.ids().size() >= onlyB.size(), Duration.ofSeconds(10))).isTrue();
    subB.close();
    subA.close();

    assertThat(onB.ids()).isEqualTo(aOrB);
    assertThat(onA.ids()).isEqualTo(onlyB);
    assertThat(onB.violations()).isEmpty();
    assertThat(onA.violations()).isEmpty();
  }

  @Test
  void resumingOnTheOtherNodeReplaysExactlyWhatFollowsTheLastEventId() throws Exception {
    RecordingSink first = new RecordingSink();
    Subscription onA = a.subscribe(Set.of("t"), Position.earliest(), first);
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ids.add(a.broker.publish(Publication.of("t", Event.of("e" + i))).get(10, SECONDS).id());
    }
    assertThat(first.await(s -> s.ids().size() >= 10, Duration.ofSeconds(10))).isTrue();
    onA.close();
    long lastSeen = first.ids().get(9);

    // The client reconnects through the balancer to the other node, while publishing goes on.
    RecordingSink second = new RecordingSink();
    Subscription onB = b.subscribe(Set.of("t"), Position.parse(Long.toString(lastSeen)), second);
    for (int i = 20; i < 30; i++) {
      Node publisher = i % 2 == 0 ? a : b;
      ids.add(
          publisher.broker.publish(Publication.of("t", Event.of("e" + i))).get(10, SECONDS).id());
    }
    List<Long> expected = ids.subList(ids.indexOf(lastSeen) + 1, ids.size());
    assertThat(second.await(s -> s.ids().size() >= expected.size(), Duration.ofSeconds(10)))
        .isTrue();
    onB.close();

    assertThat(second.ids()).isEqualTo(expected);
    assertThat(second.texts()).noneMatch(f -> f.startsWith("event: reset"));
    assertThat(second.violations()).isEmpty();
  }

  private static List<Long> idsOf(List<StoredEvent> events, String... topics) {
    return events.stream()
        .filter(e -> e.topics().stream().anyMatch(Set.of(topics)::contains))
        .map(StoredEvent::id)
        .toList();
  }
}
