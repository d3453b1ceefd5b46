package dev.herald.sqlite;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.Sink;
import dev.herald.server.Subscription;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The store under the real broker, across a restart: what the hub does with it. */
@Timeout(60)
class BrokerOnSqliteTest {
  private static final Pattern ID = Pattern.compile("^id: (\\d+)$", Pattern.MULTILINE);

  @TempDir Path dir;

  /** Records frames as text, in order. */
  private static final class QueueSink implements Sink {
    private final BlockingQueue<String> frames = new LinkedBlockingQueue<>();

    @Override
    public boolean send(byte[] frame) {
      frames.add(new String(frame, UTF_8));
      return true;
    }

    @Override
    public void closed(CloseReason reason) {}

    String next() throws InterruptedException {
      String frame = frames.poll(10, SECONDS);
      assertThat(frame).as("next frame").isNotNull();
      return frame;
    }

    long nextId() throws InterruptedException {
      String frame = next();
      Matcher id = ID.matcher(frame);
      assertThat(id.find()).as("an event frame: %s", frame).isTrue();
      return Long.parseLong(id.group(1));
    }
  }

  private Broker broker(Retention retention) {
    return Broker.builder()
        .log(SqliteEventLog.builder().path(dir.resolve("events.db")).retention(retention).build())
        .heartbeat(Duration.ZERO)
        .build();
  }

  private static long publish(Broker broker, String data) throws Exception {
    return broker.publish(Publication.of("orders", Event.of(data))).get(10, SECONDS).id();
  }

  @Test
  void subscriberResumesExactlyAfterARestartOnTheSameFile() throws Exception {
    Retention retention = new Retention(1000, Duration.ofHours(1));
    List<Long> ids = new ArrayList<>();
    try (Broker broker = broker(retention)) {
      for (int i = 0; i < 50; i++) {
        ids.add(publish(broker, "o" + i));
      }
    }

    try (Broker broker = broker(retention)) {
      QueueSink sink = new QueueSink();
      try (Subscription subscription =
          broker.subscribe(Set.of("orders"), Position.after(ids.get(19)), sink)) {
        List<Long> expected = new ArrayList<>(ids.subList(20, 50));
        for (int i = 0; i < 5; i++) {
          expected.add(publish(broker, "live" + i));
        }
        List<Long> received = new ArrayList<>();
        for (int i = 0; i < expected.size(); i++) {
          received.add(sink.nextId());
        }
        assertThat(received).as("history then live, no gap, no duplicate").isEqualTo(expected);
        assertThat(subscription.isOpen()).isTrue();
      }
    }
  }

  @Test
  void resumingBehindTheRetainedHistoryGetsAResetAfterARestart() throws Exception {
    Retention retention = new Retention(10, Duration.ofHours(1));
    List<Long> ids = new ArrayList<>();
    try (Broker broker = broker(retention)) {
      for (int i = 0; i < 30; i++) {
        ids.add(publish(broker, "o" + i));
      }
    }

    try (Broker broker = broker(retention)) {
      QueueSink sink = new QueueSink();
      try (Subscription subscription =
          broker.subscribe(Set.of("orders"), Position.after(ids.get(5)), sink)) {
        String reset = sink.next();
        assertThat(reset).contains("event: reset").contains("expired").doesNotContain("id:");
        List<Long> received = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          received.add(sink.nextId());
        }
        assertThat(received).isEqualTo(ids.subList(20, 30));
        assertThat(subscription.isOpen()).isTrue();
      }
      // Resuming exactly at the newest dropped id loses nothing: no reset.
      QueueSink exact = new QueueSink();
      try (Subscription subscription =
          broker.subscribe(Set.of("orders"), Position.after(ids.get(19)), exact)) {
        assertThat(exact.nextId()).isEqualTo(ids.get(20));
        assertThat(subscription.isOpen()).isTrue();
      }
    }
  }
}
