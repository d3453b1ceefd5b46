package dev.herald.server;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class BrokerDeviceTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static Broker broker(EventLog log) {
    return Broker.builder().log(log).heartbeat(Duration.ZERO).build();
  }

  private static long publish(Broker broker, String topic, String data) throws Exception {
    return broker.publish(Publication.of(topic, Event.of(data))).get(10, SECONDS).id();
  }

  @Test
  void newStreamOfTheSameDeviceReplacesTheOlderOne() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      RecordingSink older = new RecordingSink();
      RecordingSink newer = new RecordingSink();
      RecordingSink otherDevice = new RecordingSink();
      broker.subscribe(Set.of("a", "b"), Position.live(), older, "phone").opened();
      broker.subscribe(Set.of("a", "b"), Position.live(), otherDevice, "laptop").opened();
      Subscription replacing = broker.subscribe(Set.of("b", "a"), Position.live(), newer, "phone");
      // Registered, but its transport has not written its head yet: the older one stays.
      assertThat(older.closes()).isEmpty();
      assertThat(broker.devices("a"))
          .extracting(DeviceStream::deviceId)
          .containsExactlyInAnyOrder("phone", "laptop");
      replacing.opened();
      assertThat(older.closes()).containsExactly(CloseReason.REPLACED);
      assertThat(replacing.isOpen()).isTrue();
      replacing.opened(); // idempotent
      assertThat(replacing.isOpen()).isTrue();
      long id = publish(broker, "a", "x");
      assertThat(newer.await(s -> s.ids().contains(id), WAIT)).isTrue();
      assertThat(otherDevice.await(s -> s.ids().contains(id), WAIT)).isTrue();
      assertThat(older.ids()).isEmpty();
      assertThat(otherDevice.closes()).isEmpty();
      assertThat(broker.devices("a"))
          .extracting(DeviceStream::deviceId)
          .containsExactlyInAnyOrder("phone", "laptop");
      assertThat(broker.subscriptionCount("a")).isEqualTo(2);
      TopicPresence presence = broker.presence("a").get(10, SECONDS);
      assertThat(presence.devices()).extracting(DeviceStream::deviceId).hasSize(2);
      assertThat(presence.subscriptions()).isEqualTo(2);
    }
  }

  @Test
  void streamClosedBeforeItOpenedNeitherReplacesNorIsListed() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      RecordingSink older = new RecordingSink();
      broker.subscribe(Set.of("a"), Position.live(), older, "phone").opened();
      Subscription gone =
          broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "phone");
      gone.close();
      gone.opened();
      assertThat(older.closes()).isEmpty();
      assertThat(broker.devices("a")).extracting(DeviceStream::deviceId).containsExactly("phone");
      assertThat(broker.presence("a").get(10, SECONDS).subscriptions()).isEqualTo(1);
    }
  }

  @Test
  void subscriptionsWithoutADeviceIgnoreOpened() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      RecordingSink sink = new RecordingSink();
      Subscription plain = broker.subscribe(Set.of("a"), Position.live(), sink);
      plain.opened();
      assertThat(plain.isOpen()).isTrue();
      assertThat(broker.devices("a")).isEmpty();
      assertThat(broker.subscriptionCount("a")).isEqualTo(1);
    }
  }

  @Test
  void anotherTopicSetIsAnotherStreamOfTheDevice() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      RecordingSink first = new RecordingSink();
      RecordingSink second = new RecordingSink();
      broker.subscribe(Set.of("a"), Position.live(), first, "phone").opened();
      broker.subscribe(Set.of("a", "b"), Position.live(), second, "phone").opened();
      assertThat(first.closes()).isEmpty();
      assertThat(broker.devices("a")).hasSize(2);
    }
  }

  @Test
  void deviceResumesExactlyAfterTheLastEventWrittenToItsStream() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      RecordingSink first = new RecordingSink();
      assertThat(broker.devicePosition("phone", Set.of("a"))).isEmpty();
      Subscription stream = broker.subscribe(Set.of("a"), Position.live(), first, "phone");
      stream.opened();
      long one = publish(broker, "a", "1");
      long two = publish(broker, "a", "2");
      assertThat(first.await(s -> s.ids().contains(two), WAIT)).isTrue();
      assertThat(broker.devicePosition("phone", Set.of("a"))).hasValue(Position.after(two));
      stream.close();
      long three = publish(broker, "a", "3");
      long four = publish(broker, "a", "4");

      Position resume = broker.devicePosition("phone", Set.of("a")).orElseThrow();
      assertThat(resume).isEqualTo(Position.after(two));
      RecordingSink second = new RecordingSink();
      broker.subscribe(Set.of("a"), resume, second, "phone");
      long five = publish(broker, "a", "5");
      assertThat(second.await(s -> s.ids().contains(five), WAIT)).isTrue();
      assertThat(second.ids()).containsExactly(three, four, five);
      assertThat(first.ids()).containsExactly(one, two);
    }
  }

  @Test
  void liveStreamThatWroteNothingStillResumesFromWhereItOpened() throws Exception {
    try (Broker broker = broker(MemoryEventLog.builder().build())) {
      long before = publish(broker, "a", "before");
      Subscription stream =
          broker.subscribe(Set.of("a"), Position.live(), new RecordingSink(), "d");
      stream.opened();
      stream.close();
      long missed = publish(broker, "a", "missed");
      assertThat(broker.devicePosition("d", Set.of("a"))).hasValue(Position.after(before));
      RecordingSink back = new RecordingSink();
      broker.subscribe(Set.of("a"), Position.after(before), back, "d");
      assertThat(back.await(s -> s.ids().contains(missed), WAIT)).isTrue();
      assertThat(back.ids()).containsExactly(missed);
    }
  }

  @Test
  void cursorsAreSavedInTheLogOnFlushAndClose() throws Exception {
    MemoryEventLog log = MemoryEventLog.builder().build();
    Broker broker = broker(log);
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("a"), Position.live(), sink, "phone").opened();
    long id = publish(broker, "a", "1");
    assertThat(sink.await(s -> s.ids().contains(id), WAIT)).isTrue();
    broker.flushCursors().get(10, SECONDS);
    assertThat(log.cursor(CursorKey.of("phone", Set.of("a")))).hasValue(id);
    broker.close();
    assertThat(sink.closes()).containsExactly(CloseReason.SHUTDOWN);
  }
}
