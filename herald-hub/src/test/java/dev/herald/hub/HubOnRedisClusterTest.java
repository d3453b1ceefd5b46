package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two hub nodes with {@code store("redis-cluster://...")} on a real Redis Cluster of three masters,
 * each seeded with another master, over HTTP: what one node publishes reaches the other's
 * subscribers exactly once and in order, presence and reach count both nodes, and a device moving
 * to the other node replaces its older stream there.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HubOnRedisClusterTest {
  private static RedisCluster cluster;

  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void sharedCluster() throws Exception {
    cluster = RedisCluster.shared();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
  }

  /** A node seeded with one master only: it finds the rest of the cluster itself. */
  private HubFixture node(RedisProcess seed) {
    HubFixture node =
        new HubFixture(
            TestStores.on(Hub.builder(), "redis-cluster://127.0.0.1:" + seed.port(), prefix)
                .publishRate(0));
    resources.add(node);
    return node;
  }

  private SseStream subscribe(HubFixture node, String... headers) throws Exception {
    SseStream stream = node.subscribe("", headers);
    resources.add(stream);
    assertThat(stream.response().statusCode()).isEqualTo(200);
    return stream;
  }

  @Test
  void eventsPublishedOnOneNodeReachTheOtherNodesSubscriberOnceAndInOrder() throws Exception {
    List<RedisProcess> masters = cluster.nodes();
    HubFixture a = node(masters.get(0));
    HubFixture b = node(masters.get(2));
    SseStream onB = subscribe(b, "Member-ID", "ana");
    a.awaitPresence("ana", HubFixture.devices(0, 1));

    List<String> published = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      published.add(a.publishMember("ana", "E" + i).get("id").asText());
    }
    List<Event> received = onB.next(published.size());
    assertThat(received).extracting(e -> e.id().orElseThrow()).isEqualTo(published);
    // Nothing twice: the next event is the next one published.
    String last = b.publishMember("ana", "LAST").get("id").asText();
    assertThat(onB.next().id()).hasValue(last);
    assertThat(onB.pending()).isEmpty();
  }

  @Test
  void presenceAndDevicesSpanBothNodes() throws Exception {
    List<RedisProcess> masters = cluster.nodes();
    HubFixture a = node(masters.get(1));
    HubFixture b = node(masters.get(2));
    SseStream phone = subscribe(a, "Member-ID", "ana", "Device-Id", "phone");
    SseStream laptop = subscribe(b, "Member-ID", "ana", "Device-Id", "laptop");
    JsonNode fromA = a.awaitPresence("ana", HubFixture.devices(2, 2));
    assertThat(b.awaitPresence("ana", HubFixture.devices(2, 2)).get("devices"))
        .isEqualTo(fromA.get("devices"));

    JsonNode shipped = b.publishMember("ana", "ORDER_SHIPPED");
    assertThat(shipped.get("reached").asInt()).isEqualTo(2);
    String id = shipped.get("id").asText();
    assertThat(phone.next().id()).hasValue(id);
    assertThat(laptop.next().id()).hasValue(id);

    // The phone moves to B: B's stream opens, then A's ends cleanly.
    SseStream moved = subscribe(b, "Member-ID", "ana", "Device-Id", "phone", "Last-Event-ID", id);
    assertThat(phone.awaitEnd(Duration.ofSeconds(15))).isTrue();
    assertThat(phone.endedCleanly()).isTrue();
    a.awaitPresence("ana", HubFixture.devices(2, 2));
    String next = a.publishMember("ana", "NEXT").get("id").asText();
    assertThat(moved.next().id()).hasValue(next);
    assertThat(laptop.next().id()).hasValue(next);
    assertThat(phone.pending()).isEmpty();
  }
}
