package dev.herald.redis;

import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import dev.herald.server.spi.CursorKey;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Nodes sharing a real Redis Cluster of three masters: each log is seeded with one master only and
 * follows the cluster to wherever its prefix's slot lives; notifications published on one master
 * reach subscribers connected to another.
 */
@Timeout(120)
class RedisClusterTest {
  private static final Retention RETENTION = new Retention(1000, Duration.ofHours(1));

  private static RedisCluster cluster;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void sharedCluster() throws Exception {
    cluster = RedisCluster.shared();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void appendsOnOneNodeAreAnnouncedOnAnotherWhicheverMasterOwnsThePrefix() throws Exception {
    List<RedisProcess> masters = cluster.nodes();
    Map<Integer, String> prefixByOwner = prefixOnEveryMaster();
    assertThat(prefixByOwner).hasSize(3);
    for (String prefix : prefixByOwner.values()) {
      // Seeded with different masters: at least two of the three prefixes live on a master that
      // is neither node's seed, and B's subscriber hears what is published on another master.
      RedisEventLog a = open(seed(masters.get(0)), prefix);
      RedisEventLog b = open(seed(masters.get(2)), prefix);
      Announcements heardByA = new Announcements();
      Announcements heardByB = new Announcements();
      a.listener(heardByA);
      b.listener(heardByB);
      a.watch("t").join();
      b.watch("t").join();
      b.watch("u").join();

      List<Long> ids = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        ids.add(append(a, "t", "one" + i).id());
        // Announced before the append completed, even when the notification came from a master
        // other than the one A's subscriber connection is on.
        assertThat(heardByA.ids()).as("prefix %s", prefix).contains(ids.get(i));
      }
      a.append(
              List.of(
                  Publication.of("u", Event.of("batch1")),
                  new Publication(new LinkedHashSet<>(List.of("t", "u")), Event.of("batch2"))))
          .get(10, SECONDS)
          .forEach(event -> ids.add(event.id()));
      ids.add(append(b, "t", "from b").id());

      heardByB.awaitId(ids.get(ids.size() - 1));
      assertThat(heardByB.ids()).as("prefix %s: once, in order", prefix).isEqualTo(ids);
      List<Long> onT = new ArrayList<>(ids);
      onT.remove(ids.get(5)); // published to u only, which A does not watch
      heardByA.awaitId(ids.get(ids.size() - 1));
      assertThat(heardByA.ids()).as("prefix %s: node A watches t only", prefix).isEqualTo(onT);
      assertThat(b.readAfter(Set.of("t", "u"), 0, 100)).extracting(StoredEvent::id).isEqualTo(ids);

      CursorKey phone = CursorKey.of("phone", Set.of("t"));
      a.saveCursors(Map.of(phone, ids.get(3))).get(10, SECONDS);
      b.saveCursors(Map.of(phone, ids.get(1))).get(10, SECONDS);
      assertThat(b.cursor(phone)).hasValue(ids.get(3));
    }
  }

  @Test
  void brokerSubscribersOnOneNodeGetWhatAnotherNodePublishes() throws Exception {
    String prefix = TestRedis.newPrefix();
    Node a = new Node(cluster.uri(), prefix, RETENTION, Duration.ZERO, 500);
    resources.add(a);
    Node b = new Node(seed(cluster.nodes().get(1)), prefix, RETENTION, Duration.ZERO, 500);
    resources.add(b);
    RecordingSink sink = new RecordingSink();
    Subscription subscription = b.subscribe(Set.of("t"), Position.live(), sink);
    List<Long> wanted = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      wanted.add(a.broker.publish(Publication.of("t", Event.of("e" + i))).get(10, SECONDS).id());
    }

    assertThat(sink.await(s -> s.ids().size() >= wanted.size(), Duration.ofSeconds(10)))
        .as("got %s", sink.ids())
        .isTrue();
    assertThat(sink.ids()).isEqualTo(wanted);
    assertThat(sink.violations()).isEmpty();
    subscription.close();
  }

  @Test
  void aNodeWhoseSubscriberConnectionDropsCatchesUpWithoutGapOrDuplicate() throws Exception {
    String prefix = TestRedis.newPrefix();
    RedisEventLog a = open(cluster.uri(), prefix);
    RedisEventLog b = open(cluster.uri(), prefix);
    Announcements heardByB = new Announcements();
    b.listener(heardByB);
    b.watch("t").join();
    List<Long> ids = new ArrayList<>();
    ids.add(append(a, "t", "before").id());
    heardByB.awaitId(ids.get(0));
    BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            messages.add(record.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger logger = Logger.getLogger(RedisEventLog.class.getName());
    logger.addHandler(handler);
    try {
      for (RedisProcess node : cluster.nodes()) {
        killPubSubClients(node);
      }
      // Published while B may still be reconnecting: B reads them from the stream.
      for (int i = 0; i < 10; i++) {
        ids.add(append(a, "t", "during" + i).id());
      }
      awaitMessage(messages, "resumed");
    } finally {
      logger.removeHandler(handler);
    }
    ids.add(append(a, "t", "after").id());

    heardByB.awaitId(ids.get(ids.size() - 1));
    assertThat(heardByB.ids()).as("once, in order").isEqualTo(ids);
    assertThat(heardByB.concurrent()).isFalse();
  }

  @Test
  void aStandaloneUriOnAMasterNotOwningTheSlotFailsWhereTheClusterUriFollows() throws Exception {
    Map<Integer, String> prefixByOwner = prefixOnEveryMaster();
    RedisProcess other = cluster.nodes().get(1);
    String prefix =
        prefixByOwner.entrySet().stream()
            .filter(e -> e.getKey() != other.port())
            .findFirst()
            .orElseThrow()
            .getValue();
    RedisEventLog standalone = open(other.uri(), prefix);

    assertThat(standalone.append(List.of(Publication.of("t", Event.of("x")))))
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class)
        .withMessageContaining("MOVED");

    RedisEventLog clustered = open(seed(other), prefix);
    StoredEvent stored = append(clustered, "t", "x");
    assertThat(clustered.readAfter(Set.of("t"), 0, 10))
        .extracting(StoredEvent::id)
        .containsExactly(stored.id());
  }

  // ---------------------------------------------------------------------------------------------

  private RedisEventLog open(String uri, String prefix) {
    RedisEventLog log =
        RedisEventLog.builder().uri(uri).keyPrefix(prefix).retention(RETENTION).build();
    resources.add(log);
    return log;
  }

  private static StoredEvent append(RedisEventLog log, String topic, String data) throws Exception {
    return log.append(List.of(Publication.of(topic, Event.of(data)))).get(10, SECONDS).get(0);
  }

  private static String seed(RedisProcess node) {
    return "redis-cluster://127.0.0.1:" + node.port();
  }

  private static void killPubSubClients(RedisProcess node) {
    RedisClient client = RedisClient.create(node.uri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().clientKill(KillArgs.Builder.typePubsub());
    } catch (RedisCommandExecutionException e) {
      // "No such client": none of the logs subscribes through this node.
    } finally {
      client.shutdown();
    }
  }

  /** Waits (bounded) for a log message of the log containing {@code text}. */
  private static void awaitMessage(BlockingQueue<String> messages, String text)
      throws InterruptedException {
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (true) {
      String message = messages.poll(Math.max(0, deadline - System.nanoTime()), NANOSECONDS);
      assertThat(message).as("a log message containing \"%s\"", text).isNotNull();
      if (message.contains(text)) {
        return;
      }
    }
  }

  /** A fresh key prefix per master, keyed by the port of the master owning its slot. */
  private static Map<Integer, String> prefixOnEveryMaster() {
    Map<Integer, String> byOwner = new HashMap<>();
    RedisClient client = RedisClient.create(cluster.nodes().get(0).uri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      List<Object> slots = connection.sync().clusterSlots();
      // Bounded: a random prefix lands on each of 3 masters with probability about 1/3.
      for (int i = 0; i < 1000 && byOwner.size() < 3; i++) {
        String prefix = TestRedis.newPrefix();
        int slot = SlotHash.getSlot("{" + prefix + "}meta");
        byOwner.putIfAbsent(owner(slots, slot), prefix);
      }
    } finally {
      client.shutdown();
    }
    return byOwner;
  }

  /** The port of the master serving {@code slot}, from a CLUSTER SLOTS reply. */
  private static int owner(List<Object> slots, int slot) {
    for (Object range : slots) {
      List<?> fields = (List<?>) range;
      long start = ((Number) fields.get(0)).longValue();
      long end = ((Number) fields.get(1)).longValue();
      if (slot >= start && slot <= end) {
        return ((Number) ((List<?>) fields.get(2)).get(1)).intValue();
      }
    }
    throw new IllegalStateException("no master serves slot " + slot);
  }
}
