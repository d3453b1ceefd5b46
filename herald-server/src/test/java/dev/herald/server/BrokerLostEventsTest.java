package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.spi.EventLog;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A shared log that lost events before it could announce them (a Redis failover without WAIT) says
 * so through {@link EventLog.Listener#onLost}; every stream that was due them hears a {@code reset}
 * right after the last event it delivered, never a silent gap.
 */
@Timeout(30)
class BrokerLostEventsTest {
  /** A memory log whose listener the test can tell of a loss, as a Redis log would. */
  private static final class LosingLog extends ForwardingEventLog {
    volatile EventLog.Listener listener;

    LosingLog() {
      super(MemoryEventLog.builder().build());
    }

    @Override
    public void listener(EventLog.Listener listener) {
      this.listener = listener;
      super.listener(listener);
    }
  }

  private static final Set<String> TOPIC = Set.of("news");

  private static long publish(Broker broker, String data) throws Exception {
    return broker.publish(new Publication(TOPIC, Event.of(data))).get(5, TimeUnit.SECONDS).id();
  }

  private static String reset(long lastEventId) {
    return "event: reset\ndata: {\"lastEventId\":\""
        + lastEventId
        + "\",\"reason\":\"expired\"}\n\n";
  }

  private static String event(long id, String data) {
    return "id: " + id + "\ndata: " + data + "\n\n";
  }

  @Test
  void aLiveStreamHearsAResetRightAfterItsLastEventAndGoesOnLive() throws Exception {
    LosingLog log = new LosingLog();
    Broker broker = Broker.builder().heartbeat(Duration.ZERO).log(log).build();
    try {
      RecordingSink sink = new RecordingSink();
      broker.subscribe(TOPIC, Position.live(), sink);
      long first = publish(broker, "one");
      // Published and acknowledged elsewhere, then lost with the master before it reached here.
      log.listener.onLost(first + 10);
      long after = publish(broker, "two");

      assertThat(sink.await(s -> s.lastEventId() == after, Duration.ofSeconds(5))).isTrue();
      assertThat(sink.texts())
          .containsExactly(event(first, "one"), reset(first), event(after, "two"));
    } finally {
      broker.close();
    }
  }

  @Test
  void aReplayingStreamHearsTheResetAtItsHandOffToLive() throws Exception {
    LosingLog log = new LosingLog();
    Broker broker = Broker.builder().heartbeat(Duration.ZERO).log(log).build();
    try {
      long first = publish(broker, "one");
      RecordingSink sink = new RecordingSink();
      sink.writable(false); // the replay waits before its first page
      broker.subscribe(TOPIC, Position.earliest(), sink);
      log.listener.onLost(first + 10);
      sink.writable(true);
      long after = publish(broker, "two");

      assertThat(sink.await(s -> s.lastEventId() == after, Duration.ofSeconds(5))).isTrue();
      assertThat(sink.texts())
          .containsExactly(event(first, "one"), reset(first), event(after, "two"));
    } finally {
      broker.close();
    }
  }

  @Test
  void aStreamThatGotEverythingUpToTheLossHearsNoReset() throws Exception {
    LosingLog log = new LosingLog();
    Broker broker = Broker.builder().heartbeat(Duration.ZERO).log(log).build();
    try {
      RecordingSink sink = new RecordingSink();
      broker.subscribe(TOPIC, Position.live(), sink);
      long first = publish(broker, "one");
      long second = publish(broker, "two");
      // What was lost had ids it already has (it was announced here before the failover).
      log.listener.onLost(second);
      long after = publish(broker, "three");

      assertThat(sink.await(s -> s.lastEventId() == after, Duration.ofSeconds(5))).isTrue();
      assertThat(sink.texts())
          .containsExactly(event(first, "one"), event(second, "two"), event(after, "three"));
      assertThat(sink.closes()).isEmpty();
    } finally {
      broker.close();
    }
  }
}
