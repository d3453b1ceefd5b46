package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The broker tells a shared log which topics this node serves, and stops when it no longer does.
 */
@Timeout(30)
class BrokerWatchTest {
  /** Counts watches per topic, as a Redis log does; can be told to fail on one topic. */
  private static final class CountingLog extends ForwardingEventLog {
    final Map<String, Integer> watches = new ConcurrentHashMap<>();
    volatile String failOn = "";

    CountingLog() {
      super(MemoryEventLog.builder().build());
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> watch(String topic) {
      if (topic.equals(failOn)) {
        throw new StoreUnavailableException("cannot watch " + topic);
      }
      watches.merge(topic, 1, Integer::sum);
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    }

    @Override
    public void unwatch(String topic) {
      watches.merge(topic, -1, (a, b) -> a + b == 0 ? null : a + b);
    }
  }

  private static Sink sink() {
    return new Sink() {
      @Override
      public boolean send(byte[] frame) {
        return true;
      }

      @Override
      public void closed(CloseReason reason) {}
    };
  }

  @Test
  void watchesEveryTopicWhileASubscriptionNeedsItAndUnwatchesOnEveryKindOfClose() {
    CountingLog log = new CountingLog();
    Broker broker = Broker.builder().heartbeat(Duration.ZERO).log(log).build();
    try {
      Subscription a = broker.subscribe(Set.of("x", "y"), Position.live(), sink());
      Subscription b = broker.subscribe(Set.of("y"), Position.live(), sink());
      assertThat(log.watches).isEqualTo(Map.of("x", 1, "y", 2));

      a.close();
      a.close(CloseReason.ERROR);
      assertThat(log.watches).isEqualTo(Map.of("y", 1));

      b.close(CloseReason.SLOW_CONSUMER);
      assertThat(log.watches).isEmpty();

      broker.subscribe(Set.of("z"), Position.earliest(), sink());
      assertThat(log.watches).isEqualTo(Map.of("z", 1));
    } finally {
      broker.close();
    }
    assertThat(log.watches).as("shutdown releases every watch").isEmpty();
  }

  @Test
  void aSubscribeTheLogCannotWatchFailsAndLeavesNothingWatched() {
    CountingLog log = new CountingLog();
    Broker broker = Broker.builder().heartbeat(Duration.ZERO).log(log).build();
    try {
      log.failOn = "b";
      assertThatThrownBy(() -> broker.subscribe(Set.of("a", "b", "c"), Position.live(), sink()))
          .isInstanceOf(StoreUnavailableException.class)
          .hasMessageContaining("cannot watch b");
      assertThat(log.watches).isEmpty();
      assertThat(broker.subscriptionCount()).isZero();
    } finally {
      broker.close();
    }
  }
}
