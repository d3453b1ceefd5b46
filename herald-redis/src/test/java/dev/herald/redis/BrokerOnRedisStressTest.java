package dev.herald.redis;

import static dev.herald.server.StressChains.allTopics;
import static dev.herald.server.StressChains.assertHopEndedCleanly;
import static dev.herald.server.StressChains.awaitHop;
import static dev.herald.server.StressChains.randomTopics;

import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Position;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.StressChains.Chain;
import dev.herald.server.StressRun;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

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
  private static final int PUBLISHERS = 2;
  private static final int SUBSCRIBERS = 3;
  private static final int CHAINS_PER_SUBSCRIBER = 12;
  private static final int MAX_PUBLISHES = 5_000;

  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();
  private final List<Node> nodes = new ArrayList<>();

  {
    // In the order they opened.
    redis.closeAfter(() -> nodes.forEach(Node::close));
  }

  @Test
  void everySubscriberGetsEverythingAfterItsPositionOnceInOrderOnWhicheverNodeItResumes()
      throws Exception {
    long seed = Long.getLong("herald.stress.seed", System.nanoTime());
    StressRun.replayable(seed, this::run);
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
    StressRun stress = new StressRun();
    stress.run(
        seed,
        PUBLISHERS,
        MAX_PUBLISHES,
        500_000,
        (random, batch) -> {
          Node node = nodes.get(random.nextInt(nodes.size()));
          return node.broker.publishAll(batch).get(10, TimeUnit.SECONDS);
        },
        SUBSCRIBERS,
        CHAINS_PER_SUBSCRIBER,
        random -> runChain(random, stress.maxAcked()),
        Duration.ofSeconds(60));
    String summary = stress.verifyAll(SUBSCRIBERS * CHAINS_PER_SUBSCRIBER);
    System.out.printf("redis stress seed %d: %s%n", seed, summary);
  }

  private Chain runChain(Random random, AtomicLongArray maxAcked) throws Exception {
    Set<String> topics = randomTopics(random);
    RedisEventLog log = nodes.get(0).log;
    Position start;
    int kind = random.nextInt(3);
    List<StoredEvent> oldest = log.readAfter(allTopics(), 0, 1);
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
    long liveLower = 0;
    long liveUpper = 0;
    int hops = 1 + random.nextInt(4);
    Position position = start;
    for (int hop = 0; hop < hops; hop++) {
      boolean last = hop == hops - 1;
      Node node = nodes.get(random.nextInt(nodes.size()));
      RecordingSink sink =
          !last && random.nextInt(4) == 0
              ? new RecordingSink(1 + random.nextInt(40))
              : new RecordingSink();
      // Published before the subscription existed: a live one skips it, even if this node only
      // announces it afterwards (its notification was still on its way).
      long before = node.log.lastId();
      Subscription subscription = node.subscribe(topics, position, sink);
      long after = node.log.lastId();
      if (position.kind() == Position.Kind.LIVE) {
        liveLower = before;
        liveUpper = after;
      }
      awaitHop(sink, last, random, topics, position, after, maxAcked);
      subscription.close();
      assertHopEndedCleanly(sink);
      received.addAll(sink.ids());
      if (position.kind() == Position.Kind.LIVE && !received.isEmpty()) {
        // The next hop resumes after the live hop's last event and must miss nothing after it.
        liveUpper = Math.min(liveUpper, received.get(received.size() - 1));
      }
      if (!received.isEmpty()) {
        position = Position.parse(Long.toString(received.get(received.size() - 1)));
      }
    }
    return new Chain(topics, start, liveLower, liveUpper, received);
  }
}
