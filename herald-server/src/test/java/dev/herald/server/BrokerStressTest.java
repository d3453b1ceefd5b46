package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Publishers and subscribers at once, with exact invariants. Publishers write single events and
 * batches to random sets of topics; subscribers follow "chains": subscribe to a random set of
 * topics from a random position (live, earliest, after an id), take some events, drop (or get cut
 * off as slow), resume after the last id received, and so on. Every chain must have received every
 * event of its topics after its position exactly once, in id order, with no gap — and at the end of
 * the chain, everything acknowledged before it subscribed for the last time.
 *
 * <p>The budget is fixed (threads, chains, hops); the seed is printed on failure and can be
 * replayed with {@code -Dherald.stress.seed=N}.
 */
@Timeout(120)
class BrokerStressTest {
  private static final String[] TOPICS = {"t0", "t1", "t2", "t3", "t4"};
  private static final int PUBLISHERS = 3;
  private static final int SUBSCRIBERS = 4;
  private static final int CHAINS_PER_SUBSCRIBER = 25;
  private static final int MAX_PUBLISHES = 20_000;
  private static final int ROUNDS = 4;

  @Test
  void everySubscriberGetsEverythingAfterItsPositionOnceInOrderAcrossDropsAndResumes()
      throws Exception {
    long first = Long.getLong("herald.stress.seed", System.nanoTime());
    for (int round = 0; round < ROUNDS; round++) {
      long seed = first + round;
      try {
        run(seed);
      } catch (AssertionError | Exception e) {
        throw new AssertionError(
            "stress run failed; repeat it with -Dherald.stress.seed=" + seed + ": " + e, e);
      }
    }
  }

  private record Chain(
      Set<String> topics,
      Position start,
      long liveLowerBound,
      long liveUpperBound,
      List<Long> received) {}

  private void run(long seed) throws Exception {
    MemoryEventLog log =
        MemoryEventLog.builder()
            .retention(new Retention(1_000_000, Duration.ofHours(1)))
            .maxBytes(1L << 30)
            .build();
    Broker broker =
        Broker.builder()
            .log(log)
            .heartbeat(Duration.ofMillis(4))
            .replayPageSize(16)
            .maxBufferedEvents(1_000_000)
            .build();
    AtomicLongArray maxAcked = new AtomicLongArray(TOPICS.length);
    // Completed publishes were fanned out (in id order) before they completed.
    AtomicLong completed = new AtomicLong();
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
                    List<StoredEvent> stored = broker.publishAll(batch).get(10, TimeUnit.SECONDS);
                    completed.accumulateAndGet(stored.get(stored.size() - 1).id(), Math::max);
                    for (StoredEvent event : stored) {
                      acked.put(event.id(), event.topics());
                      for (String topic : event.topics()) {
                        maxAcked.accumulateAndGet(index(topic), event.id(), Math::max);
                      }
                    }
                    // Pace the publishers so replays and live delivery overlap for a while.
                    LockSupport.parkNanos(200_000);
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
                    chains.add(runChain(broker, log, random, maxAcked, completed));
                  }
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> subscriber : subscribers) {
        subscriber.get(90, TimeUnit.SECONDS);
      }
      subscribersDone.set(true);
      for (Future<?> publisher : publishers) {
        publisher.get(30, TimeUnit.SECONDS);
      }
    } finally {
      subscribersDone.set(true);
      pool.shutdownNow();
      broker.close();
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
        "stress seed %d: %d events published, %d chains received %d events%n",
        seed, all.size(), chains.size(), delivered);
  }

  private static Chain runChain(
      Broker broker,
      MemoryEventLog log,
      Random random,
      AtomicLongArray maxAcked,
      AtomicLong completed)
      throws Exception {
    Set<String> topics = randomTopics(random);
    Position start;
    int kind = random.nextInt(3);
    long newest = log.lastId();
    if (kind == 0) {
      start = Position.live();
    } else if (kind == 1 || newest == 0) {
      start = Position.earliest();
    } else {
      long first = log.readAfter(Set.of(TOPICS), 0, 1).get(0).id();
      start = Position.after(first + (long) (random.nextDouble() * (newest - first)));
    }
    List<Long> received = new ArrayList<>();
    long liveLower = 0;
    long liveUpper = 0;
    int hops = 1 + random.nextInt(4);
    Position position = start;
    for (int hop = 0; hop < hops; hop++) {
      boolean last = hop == hops - 1;
      // Some hops are cut off as slow consumers after a few frames; the chain resumes the same.
      RecordingSink sink =
          !last && random.nextInt(4) == 0
              ? new RecordingSink(1 + random.nextInt(40))
              : new RecordingSink();
      // Everything up to here was fanned out before the subscription existed: never delivered.
      long before = completed.get();
      Subscription subscription = broker.subscribe(topics, position, sink);
      long after = log.lastId();
      if (position.kind() == Position.Kind.LIVE) {
        liveLower = before;
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
      assertThat(sink.texts()).noneMatch(text -> text.startsWith("event: reset"));
      received.addAll(sink.ids());
      if (!received.isEmpty()) {
        // As a client would: resume with the last id it saw, given as a Last-Event-ID.
        position = Position.parse(Long.toString(received.get(received.size() - 1)));
      }
    }
    return new Chain(topics, start, liveLower, liveUpper, received);
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
    long from;
    switch (chain.start().kind()) {
      case EARLIEST -> from = 0;
      case AFTER -> from = chain.start().id();
      case LIVE -> {
        assertThat(firstReceived)
            .as("%s: nothing from before it subscribed", what)
            .isGreaterThan(chain.liveLowerBound());
        from = Math.min(firstReceived - 1, chain.liveUpperBound());
      }
      default -> throw new AssertionError(chain.start());
    }
    List<Long> expected = new ArrayList<>();
    for (long id : all) {
      if (id > from && id <= lastReceived && intersects(acked.get(id), chain.topics())) {
        expected.add(id);
      }
    }
    if (chain.start().kind() == Position.Kind.LIVE) {
      // Events published while it subscribed may or may not be included; after that, all are.
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
