package dev.herald.server;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class BrokerPublishOutcomeTest {
  @Test
  void publishTellsHowManyLiveSubscriptionsEachEventReached() throws Exception {
    try (Broker broker = Broker.builder().heartbeat(Duration.ZERO).build()) {
      RecordingSink a = new RecordingSink();
      RecordingSink b = new RecordingSink();
      broker.subscribe(Set.of("x"), Position.live(), a);
      broker.subscribe(Set.of("x", "y"), Position.live(), b);
      PublishReceipt published =
          broker
              .publish(
                  List.of(
                      Publication.of("x", Event.of("1")),
                      Publication.of("y", Event.of("2")),
                      Publication.of("z", Event.of("3")),
                      new Publication(Set.of("x", "y"), Event.of("4"))),
                  Optional.empty())
              .get(10, SECONDS);
      assertThat(published.replayed()).isFalse();
      assertThat(published.ids()).hasSize(4);
      assertThat(published.reached()).containsExactly(2, 1, 0, 2);
    }
  }

  @Test
  void retriedKeyPublishesNothingAndReachesNobody() throws Exception {
    try (Broker broker = Broker.builder().heartbeat(Duration.ZERO).build()) {
      RecordingSink sink = new RecordingSink();
      broker.subscribe(Set.of("x"), Position.live(), sink);
      IdempotencyKey key = new IdempotencyKey("", "k", "f", Duration.ofHours(1));
      List<Publication> batch = List.of(Publication.of("x", Event.of("once")));
      PublishReceipt first = broker.publish(batch, Optional.of(key)).get(10, SECONDS);
      PublishReceipt second = broker.publish(batch, Optional.of(key)).get(10, SECONDS);
      assertThat(first.reached()).containsExactly(1);
      assertThat(second.replayed()).isTrue();
      assertThat(second.ids()).isEqualTo(first.ids());
      assertThat(second.reached()).containsExactly(0);
      // A marker proves the retry sent nothing: it is the second frame the sink ever saw.
      long marker = broker.publish(Publication.of("x", Event.of("marker"))).get(10, SECONDS).id();
      assertThat(sink.await(s -> s.ids().contains(marker), Duration.ofSeconds(10))).isTrue();
      assertThat(sink.ids()).containsExactly(first.ids().get(0), marker);
    }
  }
}
