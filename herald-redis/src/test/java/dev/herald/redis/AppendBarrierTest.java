package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An append to a watched topic completes once its barrier passed the announcer; a barrier that
 * never comes (a failed Cluster link drops it) is replaced by a catch-up from the streams.
 */
@Timeout(60)
class AppendBarrierTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final RedisEventLog log =
      redis.closeAfter(
          RedisEventLog.builder()
              .uri(TestRedis.URI)
              .keyPrefix(redis.prefix())
              .retention(new Retention(100, Duration.ofHours(1)))
              .commandTimeout(Duration.ofSeconds(1))
              .build());
  private final Announcements heard = new Announcements();

  @Test
  void aLostBarrierDelaysTheAppendByTheCommandTimeoutThenACatchUpCompletesIt() throws Exception {
    log.listener(heard);
    log.watch("t").join();
    long first = append("first").id();
    assertThat(heard.ids()).containsExactly(first);

    log.loseBarriers();
    long start = System.nanoTime();
    long second = append("second").id();
    Duration waited = Duration.ofNanos(System.nanoTime() - start);

    assertThat(heard.ids())
        .as("announced before the append completed")
        .containsExactly(first, second);
    assertThat(waited).as("waited for the barrier").isGreaterThanOrEqualTo(Duration.ofMillis(900));
    // The catch-up subscribed to the barrier channel again.
    long third = append("third").id();
    assertThat(heard.ids()).containsExactly(first, second, third);
    assertThat(heard.concurrent()).isFalse();
    assertThat(log.readAfter(Set.of("t"), 0, 10))
        .extracting(StoredEvent::id)
        .containsExactly(first, second, third);
  }

  @Test
  void anAppendToAnUnwatchedTopicCompletesWithoutAnnouncing() throws Exception {
    log.listener(heard);
    log.watch("t").join();
    StoredEvent other =
        log.append(List.of(Publication.of("other", Event.of("x")))).get(10, SECONDS).get(0);
    long watched = append("y").id();

    assertThat(heard.ids()).containsExactly(watched);
    assertThat(other.id()).isLessThan(watched);
  }

  private StoredEvent append(String data) throws Exception {
    return log.append(List.of(Publication.of("t", Event.of(data)))).get(10, SECONDS).get(0);
  }
}
