package dev.herald.server;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.Presence;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a broker uses its {@link Presence}: what it tells it, how it merges other nodes' answers, and
 * that a presence failing never fails a publish. The Redis presence is tested in herald-redis; here
 * a directory in memory stands for "the other nodes".
 */
@Timeout(30)
class BrokerPresenceTest {
  /** Other nodes as a fixed answer; records what the broker tells it. */
  private static final class Elsewhere implements Presence {
    final List<String> told = new CopyOnWriteArrayList<>();
    final AtomicBoolean closed = new AtomicBoolean();
    volatile Local local;
    volatile RuntimeException bindFailure;
    volatile boolean down;

    @Override
    public void bind(Local local) {
      if (bindFailure != null) {
        throw bindFailure;
      }
      this.local = local;
    }

    @Override
    public void opened(Stream stream) {
      told.add("opened " + stream.key().deviceId() + " " + stream.streamId());
    }

    @Override
    public void closed(Stream stream) {
      told.add("closed " + stream.key().deviceId() + " " + stream.streamId());
    }

    @Override
    public void subscriptionsChanged(String topic) {
      told.add("count " + topic + "=" + local.subscriptionCount(topic));
    }

    @Override
    public CompletableFuture<TopicPresence> remote(String topic) {
      if (down) {
        return CompletableFuture.failedFuture(new StoreUnavailableException("down"));
      }
      return CompletableFuture.completedFuture(
          new TopicPresence(
              topic,
              List.of(new DeviceStream("laptop", Instant.parse("2026-01-01T00:00:00Z"))),
              2));
    }

    @Override
    public CompletableFuture<Map<String, Integer>> remoteSubscriptionCounts(Set<String> topics) {
      if (down) {
        return CompletableFuture.failedFuture(new StoreUnavailableException("down"));
      }
      return CompletableFuture.completedFuture(Map.of("a", 2, "b", 5));
    }

    @Override
    public void close() {
      closed.set(true);
    }
  }

  private static Broker broker(Presence presence) {
    return Broker.builder().heartbeat(Duration.ZERO).presence(presence).build();
  }

  @Test
  void tellsItsPresenceOfStreamsAndCountsAndMergesTheOtherNodes() throws Exception {
    Elsewhere elsewhere = new Elsewhere();
    try (Broker broker = broker(elsewhere)) {
      Subscription older =
          broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "phone");
      older.opened();
      Subscription newer =
          broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "phone");
      newer.opened();
      assertThat(older.isOpen()).isFalse();
      // The new stream is recorded before the older one ends, so the device is never missing; its
      // record takes the older one's place, so the older one's end has nothing to remove.
      assertThat(elsewhere.told)
          .containsExactly(
              "count a=1", "opened phone 1", "count a=2", "opened phone 2", "count a=1");
      newer.close();
      assertThat(elsewhere.told).endsWith("closed phone 2", "count a=0");
      newer = broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "phone");
      newer.opened();

      TopicPresence presence = broker.presence("a").get(10, SECONDS);
      assertThat(presence.devices())
          .extracting(DeviceStream::deviceId)
          .containsExactly("laptop", "phone");
      assertThat(presence.subscriptions()).isEqualTo(3);
      PublishReceipt published =
          broker
              .publish(
                  List.of(
                      Publication.of("a", Event.of("1")),
                      new Publication(Set.of("a", "b"), Event.of("2")),
                      Publication.of("c", Event.of("3"))),
                  Optional.empty())
              .get(10, SECONDS);
      // Local exact count plus the other nodes' per topic.
      assertThat(published.reached()).containsExactly(3, 8, 0);

      elsewhere.local.replaced(CursorKey.of("phone", Set.of("a")), "1"); // not the open one
      assertThat(newer.isOpen()).isTrue();
      elsewhere.local.replaced(CursorKey.of("phone", Set.of("a")), "3");
      assertThat(newer.isOpen()).isFalse();
    }
    assertThat(elsewhere.closed).isTrue();
  }

  @Test
  void presenceThatCannotBeReadFailsPresenceButNeverAPublish() throws Exception {
    Elsewhere elsewhere = new Elsewhere();
    elsewhere.down = true;
    try (Broker broker = broker(elsewhere)) {
      broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "phone").opened();
      PublishReceipt published =
          broker
              .publish(List.of(Publication.of("a", Event.of("1"))), Optional.empty())
              .get(10, SECONDS);
      assertThat(published.reached()).as("this node's count only").containsExactly(1);
      assertThatThrownBy(() -> broker.presence("a").get(10, SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(StoreUnavailableException.class);
    }
  }

  @Test
  void presenceThatCannotBindFailsTheBuildAndIsClosed() {
    Elsewhere elsewhere = new Elsewhere();
    elsewhere.bindFailure = new StoreUnavailableException("Redis is down");
    assertThatThrownBy(() -> broker(elsewhere))
        .isInstanceOf(StoreUnavailableException.class)
        .hasMessage("Redis is down");
    assertThat(elsewhere.closed).isTrue();
  }
}
