package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RawRedis;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.EventLog;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * After a failover lost the newest ids, a node that neither published nor watched them must not
 * give them out again: every node hears the newest id the store gave out (publish.lua), so its
 * floor is the deployment's. A reused id would be dropped as a repeat by every node that announced
 * the lost event: an acknowledged event its streams never get.
 */
@Timeout(60)
class SharedFloorTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private final String prefix = redis.prefix();

  @Test
  void aNodeThatSawNoneOfTheLostIdsStillPublishesAboveThem() throws Exception {
    RedisEventLog watcher = open();
    List<StoredEvent> announced = new CopyOnWriteArrayList<>();
    watcher.listener(
        new EventLog.Listener() {
          @Override
          public void onAppended(List<StoredEvent> events) {
            announced.addAll(events);
          }
        });
    watcher.watch("t").get(10, TimeUnit.SECONDS);
    RedisEventLog quiet = open();

    List<StoredEvent> before =
        watcher
            .append(List.of(publication("1"), publication("2"), publication("3")))
            .get(10, TimeUnit.SECONDS);
    long newest = before.get(2).id();
    awaitTrue(() -> announced.size() == 3, "the watcher announced its three events");
    awaitTrue(() -> quiet.highestSeen() >= newest, "the quiet node heard the newest id");

    // A replica promoted without the two newest events: its sequence and stream end at the first.
    Keys keys = new Keys(prefix);
    try (RawRedis raw = new RawRedis(TestRedis.URI)) {
      raw.sync().hset(keys.meta, "seq", Long.toString(before.get(0).id()));
      raw.sync().xdel(keys.stream("t"), before.get(1).id() + "-0", before.get(2).id() + "-0");
    }

    StoredEvent after =
        quiet.append(List.of(publication("after"))).get(10, TimeUnit.SECONDS).get(0);

    assertThat(after.id()).as("no lost id given out again").isGreaterThan(newest);
    awaitTrue(() -> announced.size() == 4, "the watcher announced the new event");
    assertThat(announced.get(3).id()).isEqualTo(after.id());
  }

  private RedisEventLog open() {
    RedisEventLog log = RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build();
    redis.closeAfter(log);
    return log;
  }

  private static Publication publication(String data) {
    return Publication.of("t", Event.of(data));
  }

  private static void awaitTrue(java.util.function.BooleanSupplier condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what + " within 10 s").isLessThan(deadline);
      Thread.sleep(5);
    }
  }
}
