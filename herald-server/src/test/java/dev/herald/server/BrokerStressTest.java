package dev.herald.server;

import static dev.herald.server.StressChains.allTopics;
import static dev.herald.server.StressChains.assertHopEndedCleanly;
import static dev.herald.server.StressChains.awaitHop;
import static dev.herald.server.StressChains.randomTopics;

import dev.herald.server.StressChains.Chain;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
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
      StressRun.replayable(first + round, this::run);
    }
  }

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
    // Completed publishes were fanned out (in id order) before they completed.
    AtomicLong completed = new AtomicLong();
    StressRun stress = new StressRun();
    try {
      stress.run(
          seed,
          PUBLISHERS,
          MAX_PUBLISHES,
          200_000,
          (random, batch) -> {
            List<StoredEvent> stored = broker.publishAll(batch).get(10, TimeUnit.SECONDS);
            completed.accumulateAndGet(stored.get(stored.size() - 1).id(), Math::max);
            return stored;
          },
          SUBSCRIBERS,
          CHAINS_PER_SUBSCRIBER,
          random -> runChain(broker, log, random, stress.maxAcked(), completed),
          Duration.ofSeconds(90));
    } finally {
      broker.close();
    }
    String summary = stress.verifyAll(SUBSCRIBERS * CHAINS_PER_SUBSCRIBER);
    System.out.printf("stress seed %d: %s%n", seed, summary);
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
      long first = log.readAfter(allTopics(), 0, 1).get(0).id();
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
      awaitHop(sink, last, random, topics, position, after, maxAcked);
      subscription.close();
      assertHopEndedCleanly(sink);
      received.addAll(sink.ids());
      if (position.kind() == Position.Kind.LIVE && !received.isEmpty()) {
        // The next hop resumes after the live hop's last event and must miss nothing after it.
        liveUpper = Math.min(liveUpper, received.get(received.size() - 1));
      }
      if (!received.isEmpty()) {
        // As a client would: resume with the last id it saw, given as a Last-Event-ID.
        position = Position.parse(Long.toString(received.get(received.size() - 1)));
      }
    }
    return new Chain(topics, start, liveLower, liveUpper, received);
  }
}
