package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.CloseReason;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * herald-server's broker stress pattern on two nodes sharing one Redis: publishers on both nodes
 * write single events and batches to random topics; subscribers follow chains that subscribe on a
 * random node from a random position, take some events (or get cut off as slow), and resume after
 * the last id received — on either node. Every chain must get every event of its topics after its
 * position exactly once, in id order, and finally everything acknowledged before it last
 * subscribed. A fixed budget; the seed is printed on failure ({@code -Dherald.stress.seed=N}).
 */
@Timeout(90)
class BrokerOnRedisStressTest {
  private static final String[] TOPICS = {"t0", "t1", "t2", "t3", "t4"};
  private static final int PUBLISHERS = 2;
  private static final int SUBSCRIBERS = 3;
  private static final int CHAINS_PER_SUBSCRIBER = 12;
  private static final int MAX_PUBLISHES = 5_000;

  private final String prefix = TestRedis.newPrefix();
  private final List<Node> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(Node::close);
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  private record Chain(
      Set<String> topics, Position start, long liveUpperBound, List<Long> received) {}

  @Test
  void everySubscriberGetsEverythingAfterItsPositionOnceInOrderOnWhicheverNodeItResumes()
      throws Exception {
    long seed = Long.getLong("herald.stress.seed", System.nanoTime());
    try {
      run(seed);
    } catch (AssertionError | Exception e) {
      throw new AssertionError(
          "stress run failed; repeat it with -Dherald.stress.seed=" + seed + ": " + e, e);
    }
  }

  private void run(long seed) throws Exception {
    for (int n = 0; n < 2; n++) {
      nodes.add(
          new Node(
              TestRedis.URI,
              prefix,
              new Retention(1_000_000, Duration.ofHours(1)),
              Duration.ofMillis(20),
              16));
    }
    AtomicLongArray maxAcked = new AtomicLongArray(TOPICS.length);
    Map<Long, Set<String>> acked = new ConcurrentHashMap<>();
    AtomicBoolean subscribersDone = new AtomicBoolean();
    List<Chain> chains = new CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(PUBLISHERS + SUBSCRIBERS);
    CountDownLatch go = new CountDownLatch(1);
    try {
      List<Future<?>> publishers = new ArrayList<>();
      for (int p = 0; p < PUBLISHERS; p++) {
        Random random = new Random(seed * 31 + p);
        publishers.add(
            pool.submit(
                () -> {
                  go.await(10, TimeUnit.SECONDS);
                  for (int i = 0; i < MAX_PUBLISHES && !subscribersDone.get(); i++) {
                    List<Publication> batch = new ArrayList<>();
                    int size = random.nextInt(4) == 0 ? 1 + random.nextInt(4) : 1;
                    for (int j = 0; j < size; j++) {
                      batch.add(new Publication(randomTopics(random), Event.of("p" + i + "." + j)));
                    }
                    Node node = nodes.get(random.nextInt(nodes.size()));
                    List<StoredEvent> stored =
                        node.broker.publishAll(batch).get(10, TimeUnit.SECONDS);
                    for (StoredEvent event : stored) {
                      acked.put(event.id(), event.topics());
                      for (String topic : event.topics()) {
                        maxAcked.accumulateAndGet(index(topic), event.id(), Math::max);
                      }
                    }
                    // Pace the publishers so replays and live delivery overlap for a while.
                    LockSupport.parkNanos(500_000);
                  }
                  return null;
                }));
      }
      List<Future<?>> subscribers = new ArrayList<>();
      for (int s = 0; s < SUBSCRIBERS; s++) {
        Random random = new Random(seed * 17 + 1000 + s);
        subscribers.add(
            pool.submit(
                () -> {
                  go.await(10, TimeUnit.SECONDS);
                  for (int c = 0; c < CHAINS_PER_SUBSCRIBER; c++) {
                    chains.add(runChain(random, maxAcked));
                  }
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> subscriber : subscribers) {
        subscriber.get(60, TimeUnit.SECONDS);
      }
      subscribersDone.set(true);
      for (Future<?> publisher : publishers) {
        publisher.get(30, TimeUnit.SECONDS);
      }
    } finally {
      subscribersDone.set(true);
      pool.shutdownNow();
    }

    List<Long> all = new ArrayList<>(acked.keySet());
    all.sort(null);
    assertThat(chains).hasSize(SUBSCRIBERS * CHAINS_PER_SUBSCRIBER);
    long delivered = 0;
    for (Chain chain : chains) {
      verify(chain, all, acked);
      delivered += chain.received().size();
    }
    System.out.printf(
        "redis stress seed %d: %d events published, %d chains received %d events%n",
        seed, all.size(), chains.size(), delivered);
  }

  private Chain runChain(Random random, AtomicLongArray maxAcked) throws Exception {
    Set<String> topics = randomTopics(random);
    RedisEventLog log = nodes.get(0).log;
    Position start;
    int kind = random.nextInt(3);
    List<StoredEvent> oldest = log.readAfter(Set.of(TOPICS), 0, 1);
    long newest = log.lastId(); // read second, so first <= newest
    if (kind == 0) {
      start = Position.live();
    } else if (kind == 1 || oldest.isEmpty()) {
      start = Position.earliest();
    } else {
      long first = oldest.get(0).id();
      start = Position.after(first + (long) (random.nextDouble() * (newest - first)));
    }
    List<Long> received = new ArrayList<>();
    long liveUpper = 0;
    int hops = 1 + random.nextInt(4);
    Position position = start;
    for (int hop = 0; hop < hops; hop++) {
      boolean last = hop == hops - 1;
      Node node = nodes.get(random.nextInt(nodes.size()));
      TestSink sink =
          !last && random.nextInt(4) == 0 ? new TestSink(1 + random.nextInt(40)) : new TestSink();
      Subscription subscription = node.subscribe(topics, position, sink);
      long after = node.log.lastId();
      if (position.kind() == Position.Kind.LIVE) {
        liveUpper = after;
      }
      if (!last) {
        int take = random.nextInt(80);
        sink.await(s -> s.ids().size() >= take || !s.closes().isEmpty(), Duration.ofSeconds(5));
      } else {
        long target = 0;
        for (String topic : topics) {
          target = Math.max(target, maxAcked.get(index(topic)));
        }
        long floor = position.kind() == Position.Kind.AFTER ? position.id() : 0;
        if (position.kind() == Position.Kind.LIVE) {
          floor = after;
        }
        if (target > floor) {
          long goal = target;
          boolean caughtUp = sink.await(s -> s.lastEventId() >= goal, Duration.ofSeconds(20));
          assertThat(caughtUp)
              .as(
                  "chain on %s from %s caught up to %d; got up to %d",
                  topics, position, goal, sink.lastEventId())
              .isTrue();
        }
      }
      subscription.close();
      assertThat(sink.violations()).isEmpty();
      assertThat(sink.closes()).hasSize(1);
      assertThat(sink.closes().get(0)).isIn(CloseReason.CLIENT_CLOSED, CloseReason.SLOW_CONSUMER);
      assertThat(sink.frames()).noneMatch(text -> text.startsWith("event: reset"));
      received.addAll(sink.ids());
      if (!received.isEmpty()) {
        position = Position.parse(Long.toString(received.get(received.size() - 1)));
      }
    }
    return new Chain(topics, start, liveUpper, received);
  }

  private static void verify(Chain chain, List<Long> all, Map<Long, Set<String>> acked) {
    List<Long> received = chain.received();
    String what = "chain on " + chain.topics() + " from " + chain.start();
    for (int i = 1; i < received.size(); i++) {
      assertThat(received.get(i))
          .as("%s: in order, once (index %d)", what, i)
          .isGreaterThan(received.get(i - 1));
    }
    if (received.isEmpty()) {
      return;
    }
    long firstReceived = received.get(0);
    long lastReceived = received.get(received.size() - 1);
    long from =
        switch (chain.start().kind()) {
          case EARLIEST -> 0;
          case AFTER -> chain.start().id();
            // A live subscription may also get events published on another node just before it
            // subscribed (their notifications were still on their way); from then on, all.
          case LIVE -> Math.min(firstReceived - 1, chain.liveUpperBound());
          default -> throw new AssertionError(chain.start());
        };
    List<Long> expected = new ArrayList<>();
    for (long id : all) {
      if (id > from && id <= lastReceived && intersects(acked.get(id), chain.topics())) {
        expected.add(id);
      }
    }
    if (chain.start().kind() == Position.Kind.LIVE) {
      expected.removeIf(id -> id < firstReceived && id <= chain.liveUpperBound());
    }
    assertThat(received).as("%s: exactly the events after its position", what).isEqualTo(expected);
  }

  private static boolean intersects(Set<String> a, Set<String> b) {
    for (String topic : a) {
      if (b.contains(topic)) {
        return true;
      }
    }
    return false;
  }

  private static Set<String> randomTopics(Random random) {
    Set<String> topics = new LinkedHashSet<>();
    int n = 1 + random.nextInt(3);
    while (topics.size() < n) {
      topics.add(TOPICS[random.nextInt(TOPICS.length)]);
    }
    return new HashSet<>(topics);
  }

  private static int index(String topic) {
    return topic.charAt(1) - '0';
  }
}
