package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Redis goes away and comes back: publishes fail fast, subscribers catch up exactly. */
@Timeout(60)
class RedisOutageTest {
  private static final String PREFIX = "herald-outage:";

  @TempDir Path dir;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void publishesFailFastWhileRedisIsDownAndNodesCatchUpWithoutGapOrDuplicate() throws Exception {
    RedisProcess redis = new RedisProcess(dir, true);
    resources.add(redis);
    redis.start();
    RedisEventLog a = open(redis);
    RedisEventLog b = open(redis);
    Announcements heardByA = new Announcements();
    Announcements heardByB = new Announcements();
    a.listener(heardByA);
    b.listener(heardByB);
    a.watch("t").join();
    b.watch("t").join();
    List<Long> acked = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      acked.add(append(a, "before" + i).id());
    }
    heardByB.awaitId(acked.get(4));

    redis.stop();

    // Once its command connection is down, Lettuce refuses appends unsent: known not stored.
    awaitTrue(
        () -> !a.isAvailable() && !b.isAvailable() && !a.commandsConnected(),
        "both logs see Redis is down");
    long start = System.nanoTime();
    CompletableFuture<List<StoredEvent>> refused =
        a.append(List.of(Publication.of("t", Event.of("refused"))));
    assertThat(refused)
        .failsWithin(Duration.ofSeconds(3))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    assertThatThrownBy(() -> b.readAfter(Set.of("t"), 0, 10))
        .isInstanceOf(StoreUnavailableException.class);
    // A subscriber arriving during the outage is caught up too.
    b.watch("late").join();

    redis.start();

    // Publish as soon as Redis takes writes again, possibly before the nodes have caught up.
    for (int i = 0; i < 10; i++) {
      acked.add(appendWhenAvailable(a, i % 3 == 0 ? "late" : "t", "after" + i).id());
    }
    long newest = acked.get(acked.size() - 1);
    heardByB.awaitId(newest);
    List<Long> onT = new ArrayList<>(acked);
    for (int i = 0; i < 10; i++) {
      if (i % 3 == 0) {
        onT.remove(acked.get(5 + i));
      }
    }
    heardByA.awaitId(onT.get(onT.size() - 1));

    assertThat(heardByB.ids()).as("every acknowledged event once, in order").isEqualTo(acked);
    assertThat(heardByA.ids()).as("node A watches t only").isEqualTo(onT);
    assertThat(heardByB.concurrent()).isFalse();
    assertThat(b.readAfter(Set.of("t", "late"), 0, 100))
        .as("history survived the restart")
        .extracting(StoredEvent::id)
        .isEqualTo(acked);
    assertThat(b.isAvailable()).isTrue();
  }

  @Test
  void nodeThatLostRedisWhileOthersPublishedCatchesUpInOrderBeforeLiveEvents() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    CuttableProxy proxy = new CuttableProxy(Integer.parseInt(redis.uri().replaceAll(".*:", "")));
    resources.add(proxy);
    RedisEventLog a = open(redis.uri());
    RedisEventLog b = open(proxy.uri());
    Announcements heardByB = new Announcements();
    b.listener(heardByB);
    b.watch("t").join();
    b.watch("u").join();
    List<Long> wanted = new ArrayList<>();
    wanted.add(append(a, "before").id());
    heardByB.awaitId(wanted.get(0));

    proxy.cut();
    awaitTrue(() -> !b.isAvailable() && !b.commandsConnected(), "node B sees Redis is down");
    assertThat(b.append(List.of(Publication.of("t", Event.of("refused")))))
        .failsWithin(Duration.ofSeconds(3))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class);
    // Node A keeps publishing: these reach B only through its catch-up.
    for (int i = 0; i < 30; i++) {
      String topic = i % 3 == 0 ? "u" : i % 3 == 1 ? "t" : "other";
      StoredEvent event =
          a.append(List.of(Publication.of(topic, Event.of("missed" + i)))).get(10, SECONDS).get(0);
      if (!topic.equals("other")) {
        wanted.add(event.id());
      }
    }
    assertThat(heardByB.ids()).as("nothing heard while cut off").hasSize(1);

    proxy.restore();
    awaitTrue(b::isAvailable, "node B reconnected");
    for (int i = 0; i < 5; i++) {
      wanted.add(append(a, "live" + i).id());
    }
    heardByB.awaitId(wanted.get(wanted.size() - 1));

    assertThat(heardByB.ids())
        .as("missed events, then live ones: once, in order")
        .isEqualTo(wanted);
    assertThat(heardByB.concurrent()).isFalse();
  }

  @Test
  void brokerSubscribersStayConnectedAndGetWhatWasPublishedWhileTheirNodeWasCutOff()
      throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    CuttableProxy proxy = new CuttableProxy(Integer.parseInt(redis.uri().replaceAll(".*:", "")));
    resources.add(proxy);
    Retention retention = new Retention(1000, Duration.ofHours(1));
    Node a = new Node(redis.uri(), PREFIX, retention, Duration.ZERO, 500);
    resources.add(a);
    Node b = new Node(proxy.uri(), PREFIX, retention, Duration.ZERO, 500);
    resources.add(b);
    RecordingSink sink = new RecordingSink();
    Subscription subscription = b.subscribe(Set.of("t", "u"), Position.live(), sink);
    List<Long> wanted = new ArrayList<>();
    wanted.add(a.broker.publish(Publication.of("t", Event.of("before"))).get(10, SECONDS).id());
    assertThat(sink.await(s -> s.ids().size() == 1, Duration.ofSeconds(10))).isTrue();

    proxy.cut();
    awaitTrue(() -> !b.log.isAvailable(), "node B sees Redis is down");
    for (int i = 0; i < 20; i++) {
      String topic = i % 2 == 0 ? "t" : "u";
      wanted.add(
          a.broker.publish(Publication.of(topic, Event.of("missed" + i))).get(10, SECONDS).id());
    }
    proxy.restore();
    for (int i = 0; i < 5; i++) {
      wanted.add(a.broker.publish(Publication.of("u", Event.of("live" + i))).get(10, SECONDS).id());
    }

    assertThat(sink.await(s -> s.ids().size() >= wanted.size(), Duration.ofSeconds(10)))
        .as("caught up; got %s", sink.ids())
        .isTrue();
    assertThat(sink.ids()).isEqualTo(wanted);
    assertThat(sink.closes()).as("the subscription stayed open").isEmpty();
    assertThat(subscription.isOpen()).isTrue();
    assertThat(sink.violations()).isEmpty();
    subscription.close();
  }

  @Test
  void idsAreNeverReusedWhenRedisLostItsData() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    RedisEventLog log = open(redis);
    long before = append(log, "old").id();

    redis.stop();
    redis.start();
    awaitTrue(log::isAvailable, "reconnected to the emptied Redis");

    assertThat(log.lastId())
        .as("ids this node saw still count as assigned: resuming from them is expired, not unknown")
        .isGreaterThanOrEqualTo(before);
    assertThat(log.droppedThrough(Set.of("t"))).isGreaterThanOrEqualTo(before);
    long after = appendWhenAvailable(log, "t", "new").id();
    assertThat(after).isGreaterThan(before);
    assertThat(log.readAfter(Set.of("t"), 0, 10))
        .extracting(StoredEvent::id)
        .containsExactly(after);
    assertThat(log.droppedThrough(Set.of("t")))
        .as("a client resuming from an id of the lost history gets a reset")
        .isGreaterThanOrEqualTo(before);
  }

  private RedisEventLog open(RedisProcess redis) {
    return open(redis.uri());
  }

  private RedisEventLog open(String uri) {
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(uri)
            .keyPrefix(PREFIX)
            .retention(new Retention(1000, Duration.ofHours(1)))
            .commandTimeout(Duration.ofSeconds(1))
            .build();
    resources.add(log);
    return log;
  }

  private static StoredEvent append(RedisEventLog log, String data) throws Exception {
    return log.append(List.of(Publication.of("t", Event.of(data)))).get(10, SECONDS).get(0);
  }

  /** Retries (bounded) while the log reports Redis unavailable, as a publisher's client would. */
  private static StoredEvent appendWhenAvailable(RedisEventLog log, String topic, String data)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        return log.append(List.of(Publication.of(topic, Event.of(data)))).get(10, SECONDS).get(0);
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(StoreUnavailableException.class);
        assertThat(System.nanoTime()).as("Redis back within 20 s").isLessThan(deadline);
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20)); // a publisher's retry back-off
      }
    }
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("timed out waiting until %s", what).isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // polling a state, bounded
    }
  }
}
