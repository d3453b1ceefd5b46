package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.DeviceStream;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.PublishReceipt;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.Subscription;
import dev.herald.server.TopicPresence;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.Presence;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two hub nodes in one JVM, each a broker on its own Redis log and Redis presence: device streams
 * replace each other across nodes, presence and reach count both nodes, and a node that dies
 * disappears within the stale window. {@link PresenceOnRedisClusterTest} runs the same on a Redis
 * Cluster.
 */
@Timeout(60)
class PresenceAcrossNodesTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final String ANA = "members/ana";

  private final List<AutoCloseable> resources = new ArrayList<>();
  private String prefix;
  private String uri;
  private Connector connector;
  private RedisClusterAsyncCommands<String, String> redis;

  /** The URI every node is given. */
  String uri() {
    return TestRedis.URI;
  }

  /** A key prefix of this test only. */
  String newPrefix() {
    return TestRedis.newPrefix();
  }

  /** Deletes every key of the prefix, as Redis losing its data would. */
  void deleteKeys(String prefix) {
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  @BeforeEach
  void connect() {
    prefix = newPrefix();
    uri = uri();
    connector = new Connector(uri, Duration.ofSeconds(10));
    redis = connector.commands().async();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
    connector.close();
    deleteKeys(prefix);
  }

  /** A node: broker, log and presence; heartbeat every 100 ms, gone after 1 s. */
  private final class PresenceNode implements AutoCloseable {
    final RedisPresence presence;
    final Broker broker;

    PresenceNode() {
      RedisEventLog log =
          RedisEventLog.builder()
              .uri(uri)
              .keyPrefix(prefix)
              .retention(new Retention(1000, Duration.ofHours(1)))
              .build();
      presence =
          RedisPresence.builder()
              .uri(uri)
              .keyPrefix(prefix)
              .heartbeat(Duration.ofMillis(100))
              .staleAfter(Duration.ofSeconds(1))
              .build();
      broker = Broker.builder().log(log).presence(presence).heartbeat(Duration.ZERO).build();
      resources.add(this);
    }

    Subscription open(String device, RecordingSink sink, String... topics) {
      Subscription subscription = broker.subscribe(Set.of(topics), Position.live(), sink, device);
      subscription.opened();
      return subscription;
    }

    TopicPresence presence(String topic) throws Exception {
      return broker.presence(topic).get(10, SECONDS);
    }

    /** Polls presence until {@code condition} holds; bounded. */
    TopicPresence awaitPresence(String topic, Predicate<TopicPresence> condition) throws Exception {
      long deadline = System.nanoTime() + WAIT.toNanos();
      TopicPresence last = presence(topic);
      while (!condition.test(last)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("presence never matched: " + last);
        }
        Thread.sleep(20); // polling a condition, bounded by the deadline
        last = presence(topic);
      }
      return last;
    }

    PublishReceipt publish(String topic, String data) throws Exception {
      return broker
          .publish(List.of(Publication.of(topic, Event.of(data))), Optional.empty())
          .get(10, SECONDS);
    }

    @Override
    public void close() {
      broker.close();
    }
  }

  private static List<String> deviceIds(TopicPresence presence) {
    return presence.devices().stream().map(DeviceStream::deviceId).toList();
  }

  @Test
  void presenceAndReachCountDevicesOnBothNodes() throws Exception {
    PresenceNode a = new PresenceNode();
    PresenceNode b = new PresenceNode();
    Instant before = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    RecordingSink phone = new RecordingSink();
    RecordingSink laptop = new RecordingSink();
    a.open("phone", phone, ANA);
    b.open("laptop", laptop, ANA);
    b.broker.subscribe(Set.of(ANA), Position.live(), new RecordingSink()); // no device

    for (PresenceNode node : List.of(a, b)) {
      TopicPresence seen = node.awaitPresence(ANA, p -> p.subscriptions() == 3);
      assertThat(deviceIds(seen)).containsExactlyInAnyOrder("phone", "laptop");
      assertThat(seen.devices()).allSatisfy(d -> assertThat(d.since()).isAfterOrEqualTo(before));
    }
    // Both nodes report the same since-times, to the microsecond.
    assertThat(a.presence(ANA).devices()).isEqualTo(b.presence(ANA).devices());

    PublishReceipt published = a.publish(ANA, "shipped");
    assertThat(published.reached()).containsExactly(3);
    long id = published.ids().get(0);
    assertThat(phone.await(s -> s.ids().contains(id), WAIT)).isTrue();
    assertThat(laptop.await(s -> s.ids().contains(id), WAIT)).isTrue();
    assertThat(b.publish("members/bob", "nobody").reached()).containsExactly(0);
    TopicPresence bob = b.presence("members/bob");
    assertThat(bob.devices()).isEmpty();
    assertThat(bob.subscriptions()).isZero();
  }

  @Test
  void newStreamOnAnotherNodeReplacesTheOlderOnlyOnceOpened() throws Exception {
    PresenceNode a = new PresenceNode();
    PresenceNode b = new PresenceNode();
    RecordingSink older = new RecordingSink();
    RecordingSink otherTopics = new RecordingSink();
    a.open("phone", older, ANA, "news");
    a.open("phone", otherTopics, ANA);
    b.awaitPresence(ANA, p -> p.devices().size() == 2);

    RecordingSink newer = new RecordingSink();
    Subscription replacing =
        b.broker.subscribe(Set.of("news", ANA), Position.live(), newer, "phone");
    long live = a.publish(ANA, "both streams are open").ids().get(0);
    assertThat(newer.await(s -> s.ids().contains(live), WAIT)).isTrue();
    assertThat(older.closes()).isEmpty();

    replacing.opened();
    assertThat(older.await(s -> !s.closes().isEmpty(), WAIT)).isTrue();
    assertThat(older.closes()).containsExactly(CloseReason.REPLACED);
    assertThat(otherTopics.closes()).as("another topic set is another stream").isEmpty();
    assertThat(replacing.isOpen()).isTrue();
    for (PresenceNode node : List.of(a, b)) {
      TopicPresence seen = node.awaitPresence("news", p -> p.subscriptions() == 1);
      assertThat(seen.devices()).hasSize(1);
    }
    assertThat(a.presence(ANA).devices()).hasSize(2);
    assertThat(newer.violations()).isEmpty();
    assertThat(older.violations()).isEmpty();
  }

  @Test
  void olderStreamRecordedLateIsClosedInsteadOfTheNewerOne() throws Exception {
    PresenceNode b = new PresenceNode();
    RecordingSink newer = new RecordingSink();
    b.open("phone", newer, ANA);
    b.awaitPresence(ANA, p -> p.devices().size() == 1);
    // A node whose record of an older stream reaches Redis after the newer one's.
    ReplacementRecorder recorder =
        new ReplacementRecorder(1, (key, token) -> key.deviceId() + "/" + token);
    List<String> replaced = recorder.replaced;
    RedisPresence late =
        RedisPresence.builder()
            .uri(uri)
            .keyPrefix(prefix)
            .heartbeat(Duration.ofMillis(100))
            .staleAfter(Duration.ofSeconds(1))
            .build();
    resources.add(late);
    late.bind(recorder);
    late.opened(
        new Presence.Stream(
            CursorKey.of("phone", Set.of(ANA)), "t1", Instant.now().minusSeconds(5)));
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (replaced.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20); // polling a condition, bounded by the deadline
    }
    assertThat(replaced).containsExactly("phone/t1");
    assertThat(newer.closes()).isEmpty();
    assertThat(b.presence(ANA).devices()).hasSize(1);
  }

  @Test
  void killedNodeDisappearsWithinTheStaleWindowAndIsSweptWhileAClosedOneLeavesAtOnce()
      throws Exception {
    PresenceNode a = new PresenceNode();
    PresenceNode killed = new PresenceNode();
    PresenceNode leaving = new PresenceNode();
    a.open("phone", new RecordingSink(), ANA);
    killed.open("laptop", new RecordingSink(), ANA);
    leaving.open("tablet", new RecordingSink(), ANA);
    a.awaitPresence(ANA, p -> p.devices().size() == 3 && p.subscriptions() == 3);

    leaving.close();
    TopicPresence afterLeave = a.presence(ANA);
    assertThat(deviceIds(afterLeave)).containsExactlyInAnyOrder("phone", "laptop");
    assertThat(redis.exists("{" + prefix + "}k:" + leaving.presence.node()).get(10, SECONDS))
        .isZero();

    killed.presence.abandon(); // no goodbye: its heartbeat just stops
    long start = System.nanoTime();
    TopicPresence afterKill =
        a.awaitPresence(ANA, p -> p.devices().size() == 1 && p.subscriptions() == 1);
    assertThat(deviceIds(afterKill)).containsExactly("phone");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(WAIT);
    assertThat(a.publish(ANA, "x").reached()).containsExactly(1);
    // A's heartbeat sweeps what the dead node left.
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (redis.zscore("{" + prefix + "}nodes", killed.presence.node()).get(10, SECONDS) != null
        && System.nanoTime() < deadline) {
      Thread.sleep(20); // polling a condition, bounded by the deadline
    }
    assertThat(redis.zscore("{" + prefix + "}nodes", killed.presence.node()).get(10, SECONDS))
        .isNull();
    assertThat(redis.hkeys("{" + prefix + "}r:" + ANA).get(10, SECONDS))
        .containsExactly(a.presence.node());
    assertThat(redis.hlen("{" + prefix + "}p:" + ANA).get(10, SECONDS)).isEqualTo(1);
  }

  @Test
  void nodeWritesItsEntriesAgainAfterRedisLostThem() throws Exception {
    PresenceNode a = new PresenceNode();
    PresenceNode b = new PresenceNode();
    b.open("laptop", new RecordingSink(), ANA);
    a.awaitPresence(ANA, p -> p.devices().size() == 1);
    deleteKeys(prefix);
    TopicPresence back =
        a.awaitPresence(ANA, p -> p.devices().size() == 1 && p.subscriptions() == 1);
    assertThat(deviceIds(back)).containsExactly("laptop");
  }
}
