package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.StallWitness;
import dev.herald.server.Broker;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stream that is replaying history when Redis stalls stays open, as open streams do through an
 * outage, and completes its replay exactly (no gap, no duplicate) once Redis answers again: the
 * broker on a log on its own redis-server child, paused with SIGSTOP.
 */
@Timeout(60)
class ReplayThroughRedisStallTest {
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(1);

  @TempDir Path dir;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  @Test
  void aReplayingStreamSurvivesARedisStallAndCompletesExactly() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    RedisEventLog log =
        RedisEventLog.builder()
            .uri(redis.uri())
            .keyPrefix("herald-replay-stall:")
            .retention(new Retention(10_000, Duration.ofHours(1)))
            .commandTimeout(COMMAND_TIMEOUT)
            .build();
    Broker broker =
        Broker.builder()
            .log(log)
            .heartbeat(Duration.ZERO)
            .replayPageSize(100)
            .maxBufferedEvents(1_000_000)
            .build();
    resources.add(broker); // closes the log too
    List<Long> wanted = new ArrayList<>();
    for (int batch = 0; batch < 10; batch++) {
      List<Publication> events = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        events.add(Publication.of("t", Event.of("h" + (batch * 100 + i))));
      }
      broker.publishAll(events).get(10, SECONDS).forEach(e -> wanted.add(e.id()));
    }
    StallWitness witness = new StallWitness(redis.uri());
    resources.add(witness);

    // The client reads slowly: the replay pauses after 150 events, mid-history.
    RecordingSink sink = new RecordingSink();
    sink.pauseAfter(150);
    Subscription subscription = broker.subscribe(Set.of("t"), Position.earliest(), sink);
    assertThat(sink.await(s -> s.ids().size() >= 150, Duration.ofSeconds(10))).isTrue();

    redis.pause();
    // The client reads again: the replay's next read waits for the stalled Redis and times out.
    sink.pauseAfter(Integer.MAX_VALUE);
    sink.writable(true);
    witness.awaitStalledFor(Duration.ofSeconds(3)); // a 3 s stall
    redis.resume();

    for (int i = 0; i < 5; i++) {
      StoredEvent live = broker.publish(Publication.of("t", Event.of("live" + i))).get(10, SECONDS);
      wanted.add(live.id());
    }
    assertThat(sink.await(s -> s.ids().size() >= wanted.size(), Duration.ofSeconds(20)))
        .as("replayed and went live; got %s events, closes %s", sink.ids().size(), sink.closes())
        .isTrue();
    assertThat(sink.ids()).as("every event once, in order").isEqualTo(wanted);
    assertThat(sink.closes()).as("the stream stayed open through the stall").isEmpty();
    assertThat(subscription.isOpen()).isTrue();
    assertThat(sink.violations()).isEmpty();
    subscription.close();
  }
}
