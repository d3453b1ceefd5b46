package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Broker;
import dev.herald.server.BrokerListener;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A live subscription on a Redis log gets a contiguous run of its topic's events: of the events
 * published while it subscribed it may skip the oldest, but it never gets one and misses a later
 * one. The node's announcer may lag behind Redis (a loaded machine, a busy fan-out), so events
 * published before a topic's channel was subscribed can still be announced after the subscription
 * registered: through another watched topic's channel, or as notifications of a channel
 * subscription the node has just dropped.
 */
@Timeout(60)
class LiveStartOnRedisTest {
  private static final int BATCH = 8;
  private static final int ROUNDS = 300;
  private static final long SLOW_FAN_OUT_NANOS = 50_000;
  private static final long PUBLISH_PAUSE_NANOS = 1_000_000;

  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable closeable : closeables) {
      closeable.close();
    }
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  @Test
  void liveSubscriptionNeverGetsAnEventAnnouncedLateAndThenMissesALaterOne() throws Exception {
    // Publishes from a node that watches nothing, so its appends complete without this node.
    Node publisher = open(new Node(prefix));
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean holding = new AtomicBoolean();
    RedisEventLog log = RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build();
    Broker broker =
        open(
            Broker.builder()
                .log(log)
                .heartbeat(Duration.ZERO)
                .listener(
                    new BrokerListener() {
                      @Override
                      public void published(StoredEvent event, int reached) {
                        // Holds the announcer on the first event, as a loaded machine would.
                        if (holding.compareAndSet(false, true)) {
                          held.countDown();
                          try {
                            release.await(20, SECONDS);
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                          }
                        }
                      }
                    })
                .build());
    Subscription other = broker.subscribe(Set.of("one"), Position.live(), new RecordingSink());
    StoredEvent first = publish(publisher, "one");
    assertThat(held.await(10, SECONDS)).as("the announcer holds %s", first).isTrue();
    // The node hears the first through "one"'s channel; the second never reaches it, since nothing
    // on it watches "two" yet. Both come before the subscription below.
    StoredEvent both = publish(publisher, "one", "two");
    StoredEvent missed = publish(publisher, "two");
    RecordingSink sink = new RecordingSink();
    Subscription subscription = broker.subscribe(Set.of("two"), Position.live(), sink);
    release.countDown();
    StoredEvent after = publish(publisher, "two");

    assertThat(sink.await(s -> s.lastEventId() >= after.id(), Duration.ofSeconds(10))).isTrue();
    subscription.close();
    other.close();
    assertThat(sink.violations()).isEmpty();
    assertContiguous(sink.ids(), List.of(both.id(), missed.id(), after.id()));
    assertThat(sink.ids()).endsWith(after.id());
  }

  @Test
  void liveSubscriptionsToOneBusyTopicEachGetAContiguousRunOfItsEvents() throws Exception {
    Node publisher = open(new Node(prefix));
    // A node whose fan-out is slow (as on a loaded machine): its announcer lags behind Redis, so
    // notifications of the channel subscription the last round dropped are still queued when the
    // next round subscribes anew.
    Broker subscriber =
        open(
            Broker.builder()
                .log(RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build())
                .heartbeat(Duration.ZERO)
                .listener(
                    new BrokerListener() {
                      @Override
                      public void published(StoredEvent event, int reached) {
                        LockSupport.parkNanos(SLOW_FAN_OUT_NANOS);
                      }
                    })
                .build());
    List<Long> published = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean done = new AtomicBoolean();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    List<List<Long>> runs = new ArrayList<>();
    try {
      Future<?> publishing =
          pool.submit(
              () -> {
                // Batches: their notifications reach the node at once, and queue behind each other.
                List<Publication> batch = new ArrayList<>();
                for (int i = 0; i < BATCH; i++) {
                  batch.add(new Publication(Set.of("busy"), Event.of("e" + i)));
                }
                // Bounded: the subscriber's rounds end long before.
                for (int i = 0; i < 50_000 && !done.get(); i++) {
                  for (StoredEvent event : publisher.broker.publishAll(batch).get(10, SECONDS)) {
                    published.add(event.id());
                  }
                  // Paced, so the slow node keeps up on average and its lag stays bounded.
                  LockSupport.parkNanos(PUBLISH_PAUSE_NANOS);
                }
                return null;
              });
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      for (int round = 0; round < ROUNDS && System.nanoTime() < deadline; round++) {
        RecordingSink sink = new RecordingSink();
        // Each round subscribes to the topic's channel anew: the last round's close dropped it.
        Subscription subscription = subscriber.subscribe(Set.of("busy"), Position.live(), sink);
        boolean got = sink.await(s -> s.ids().size() >= 3, Duration.ofSeconds(10));
        subscription.close();
        assertThat(got).as("round %d got events", round).isTrue();
        assertThat(sink.violations()).isEmpty();
        runs.add(sink.ids());
      }
      done.set(true);
      publishing.get(30, SECONDS);
    } finally {
      done.set(true);
      pool.shutdownNow();
    }
    List<Long> all = new ArrayList<>(published);
    List<List<Long>> broken = new ArrayList<>();
    for (List<Long> run : runs) {
      if (!isContiguous(run, all)) {
        broken.add(run);
      }
    }
    System.out.printf(
        "live start on Redis: %d rounds over %d events, %d with a hole%n",
        runs.size(), all.size(), broken.size());
    for (List<Long> run : broken) {
      assertContiguous(run, all);
    }
  }

  private static boolean isContiguous(List<Long> got, List<Long> all) {
    if (got.isEmpty()) {
      return true;
    }
    int from = all.indexOf(got.get(0));
    return from >= 0 && got.equals(all.subList(from, Math.min(all.size(), from + got.size())));
  }

  /** {@code got} is a run of consecutive elements of {@code all}. */
  private static void assertContiguous(List<Long> got, List<Long> all) {
    if (got.isEmpty()) {
      return;
    }
    int from = all.indexOf(got.get(0));
    assertThat(from).as("%s starts with an event of %s", got, all).isNotNegative();
    List<Long> run = all.subList(from, Math.min(all.size(), from + got.size()));
    assertThat(got).as("a contiguous run of the topic's events").isEqualTo(run);
  }

  private static StoredEvent publish(Node node, String... topics) throws Exception {
    return node.broker.publish(new Publication(Set.of(topics), Event.of("e"))).get(10, SECONDS);
  }

  private <T extends AutoCloseable> T open(T closeable) {
    closeables.add(closeable);
    return closeable;
  }
}
