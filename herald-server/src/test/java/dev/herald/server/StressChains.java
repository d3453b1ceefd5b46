package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The invariants of the broker stress tests (here and on shared logs in other modules), shared so
 * every store is held to the same rules: subscribers follow "chains" of subscriptions over topics
 * {@link #TOPICS}, and every chain must get every event of its topics after its position exactly
 * once, in id order, with no gap.
 */
public final class StressChains {
  /** The topics stress tests publish to; {@link #index} maps each to 0..4. */
  private static final String[] TOPICS = {"t0", "t1", "t2", "t3", "t4"};

  private StressChains() {}

  /**
   * What one chain of subscriptions received.
   *
   * @param topics the topics it followed
   * @param start where its first subscription started
   * @param liveLowerBound for a live start: events up to this id were fanned out before it
   *     subscribed, so it must not get them (0 when unknown)
   * @param liveUpperBound for a live start: the newest id when it subscribed, or the last event its
   *     live hop received if lower; it may skip earlier events (published while it subscribed), but
   *     only those before the first one it got, and it must get every later one
   * @param received the event ids it got, over all its subscriptions
   */
  public record Chain(
      Set<String> topics,
      Position start,
      long liveLowerBound,
      long liveUpperBound,
      List<Long> received) {}

  /** Every topic a stress test uses. */
  public static Set<String> allTopics() {
    return Set.of(TOPICS);
  }

  /** How many topics there are (the length of an array indexed by {@link #index}). */
  public static int topicCount() {
    return TOPICS.length;
  }

  /** One to three distinct random topics. */
  public static Set<String> randomTopics(Random random) {
    Set<String> topics = new LinkedHashSet<>();
    int n = 1 + random.nextInt(3);
    while (topics.size() < n) {
      topics.add(TOPICS[random.nextInt(TOPICS.length)]);
    }
    return new HashSet<>(topics);
  }

  /** The index of a topic in {@link #topicCount()}-long arrays. */
  public static int index(String topic) {
    return topic.charAt(1) - '0';
  }

  /**
   * Waits for one subscription of a chain: a middle hop takes a random number of events (or is cut
   * off as slow); the last hop waits until it has caught up with everything acknowledged on its
   * topics before it subscribed ({@code after} is the newest id at that moment).
   */
  public static void awaitHop(
      RecordingSink sink,
      boolean last,
      Random random,
      Set<String> topics,
      Position position,
      long after,
      AtomicLongArray maxAcked)
      throws InterruptedException {
    if (!last) {
      int take = random.nextInt(80);
      sink.await(s -> s.ids().size() >= take || !s.closes().isEmpty(), Duration.ofSeconds(5));
      return;
    }
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

  /**
   * Checks a closed subscription of a chain: the sink rules held, it was closed once (by the client
   * or as slow), and it never got a reset.
   */
  public static void assertHopEndedCleanly(RecordingSink sink) {
    assertThat(sink.violations()).isEmpty();
    assertThat(sink.closes()).hasSize(1);
    assertThat(sink.closes().get(0)).isIn(CloseReason.CLIENT_CLOSED, CloseReason.SLOW_CONSUMER);
    assertThat(sink.texts()).noneMatch(text -> text.startsWith("event: reset"));
  }

  /**
   * Checks a chain against every acknowledged event ({@code all} ids in order, {@code acked} their
   * topics): in order, once, and exactly the events of its topics after its position up to the last
   * one it received.
   */
  public static void verify(Chain chain, List<Long> all, Map<Long, Set<String>> acked) {
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
        // Of the events published while it subscribed it may skip the oldest ones, never one
        // after an event it got (a contiguous run, over all its topics, in id order); of those
        // published after it subscribed, none.
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
}
