package dev.herald.server;

import static dev.herald.server.StressChains.index;
import static dev.herald.server.StressChains.randomTopics;
import static dev.herald.server.StressChains.topicCount;
import static dev.herald.server.StressChains.verify;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.StressChains.Chain;
import java.time.Duration;
import java.util.ArrayList;
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

/**
 * One round of a broker stress test, shared by the stress tests of every store: publishers write
 * single events and batches to random topics until the subscribers are done; subscribers follow
 * chains; then every chain is checked against every acknowledged event ({@link StressChains}).
 * Every wait is bounded.
 */
public final class StressRun {
  /** Publishes one batch somewhere and returns what was stored, once acknowledged. */
  @FunctionalInterface
  public interface Publisher {
    /**
     * Publishes {@code batch}; may use {@code random} (after the batch was drawn) to pick where.
     */
    List<StoredEvent> publish(Random random, List<Publication> batch) throws Exception;
  }

  /** Follows one chain of subscriptions and returns what it received. */
  @FunctionalInterface
  public interface Follower {
    /** Follows a chain, drawing its choices from {@code random}. */
    Chain follow(Random random) throws Exception;
  }

  /** One round of a stress test, run with a seed. */
  @FunctionalInterface
  public interface Round {
    /** Runs the round; every random choice comes from {@code seed}. */
    void run(long seed) throws Exception;
  }

  /**
   * Runs {@code round} with {@code seed}; a failure names the seed, so the round can be replayed
   * with {@code -Dherald.stress.seed=N}.
   */
  public static void replayable(long seed, Round round) {
    try {
      round.run(seed);
    } catch (AssertionError | Exception e) {
      throw new AssertionError(
          "stress run failed; repeat it with -Dherald.stress.seed=" + seed + ": " + e, e);
    }
  }

  private final AtomicLongArray maxAcked = new AtomicLongArray(topicCount());
  private final Map<Long, Set<String>> acked = new ConcurrentHashMap<>();
  private final List<Chain> chains = new CopyOnWriteArrayList<>();

  /** The newest acknowledged id per topic ({@link StressChains#index}); chains wait for it. */
  public AtomicLongArray maxAcked() {
    return maxAcked;
  }

  /**
   * Runs publishers and subscribers at once until every subscriber followed its chains, then stops
   * the publishers.
   *
   * @param seed the seed every thread's random draws from
   * @param publishers how many publisher threads
   * @param maxPublishes at most this many batches per publisher
   * @param pauseNanos the pause after each batch, so replays and live delivery overlap a while
   * @param subscribers how many subscriber threads
   * @param chainsPerSubscriber how many chains each subscriber follows, one after another
   * @param subscriberBudget how long the subscribers may take in all
   */
  public void run(
      long seed,
      int publishers,
      int maxPublishes,
      long pauseNanos,
      Publisher publisher,
      int subscribers,
      int chainsPerSubscriber,
      Follower follower,
      Duration subscriberBudget)
      throws Exception {
    AtomicBoolean subscribersDone = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(publishers + subscribers);
    CountDownLatch go = new CountDownLatch(1);
    try {
      List<Future<?>> publishing = new ArrayList<>();
      for (int p = 0; p < publishers; p++) {
        Random random = new Random(seed * 31 + p);
        publishing.add(
            pool.submit(
                () -> {
                  go.await(10, TimeUnit.SECONDS);
                  for (int i = 0; i < maxPublishes && !subscribersDone.get(); i++) {
                    List<Publication> batch = new ArrayList<>();
                    int size = random.nextInt(4) == 0 ? 1 + random.nextInt(4) : 1;
                    for (int j = 0; j < size; j++) {
                      batch.add(new Publication(randomTopics(random), Event.of("p" + i + "." + j)));
                    }
                    for (StoredEvent event : publisher.publish(random, batch)) {
                      acked.put(event.id(), event.topics());
                      for (String topic : event.topics()) {
                        maxAcked.accumulateAndGet(index(topic), event.id(), Math::max);
                      }
                    }
                    LockSupport.parkNanos(pauseNanos);
                  }
                  return null;
                }));
      }
      List<Future<?>> subscribing = new ArrayList<>();
      for (int s = 0; s < subscribers; s++) {
        Random random = new Random(seed * 17 + 1000 + s);
        subscribing.add(
            pool.submit(
                () -> {
                  go.await(10, TimeUnit.SECONDS);
                  for (int c = 0; c < chainsPerSubscriber; c++) {
                    chains.add(follower.follow(random));
                  }
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> subscriber : subscribing) {
        subscriber.get(subscriberBudget.toMillis(), TimeUnit.MILLISECONDS);
      }
      subscribersDone.set(true);
      for (Future<?> publishingThread : publishing) {
        publishingThread.get(30, TimeUnit.SECONDS);
      }
    } finally {
      subscribersDone.set(true);
      pool.shutdownNow();
    }
  }

  /**
   * Checks that there are {@code expectedChains} chains and each got exactly what it should;
   * returns a summary line (events published, chains, events received) to print.
   */
  public String verifyAll(int expectedChains) {
    List<Long> all = new ArrayList<>(acked.keySet());
    all.sort(null);
    assertThat(chains).hasSize(expectedChains);
    long delivered = 0;
    for (Chain chain : chains) {
      verify(chain, all, acked);
      delivered += chain.received().size();
    }
    return String.format(
        "%d events published, %d chains received %d events", all.size(), chains.size(), delivered);
  }
}
