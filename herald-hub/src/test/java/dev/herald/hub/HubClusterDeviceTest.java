package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.core.Event;
import dev.herald.redis.RedisEventLog;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.spi.CursorKey;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Members and devices across two hub nodes on one Redis, over HTTP: presence and reach count both
 * nodes, and a device that moves to the other node replaces its older stream there.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubClusterDeviceTest {
  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
    TestRedis.deleteKeys(TestRedis.URI, prefix);
  }

  private HubFixture node() {
    return node(TestRedis.URI);
  }

  private HubFixture node(String redisUri) {
    HubFixture node = new HubFixture(TestStores.on(Hub.builder(), redisUri, prefix).publishRate(0));
    resources.add(node);
    return node;
  }

  private SseStream subscribe(HubFixture node, String... headers) throws Exception {
    SseStream stream = node.subscribe("", headers);
    resources.add(stream);
    assertThat(stream.response().statusCode()).isEqualTo(200);
    return stream;
  }

  private static List<String> deviceIds(JsonNode presence) {
    List<String> ids = new ArrayList<>();
    presence.get("devices").forEach(d -> ids.add(d.get("deviceId").asText()));
    return ids;
  }

  @Test
  void presenceAndReachCountThePhoneAndTheLaptopOnTwoNodes() throws Exception {
    HubFixture a = node();
    HubFixture b = node();
    Instant before = Instant.now().minusSeconds(1);
    SseStream phone = subscribe(a, "Member-ID", "ana", "Device-Id", "phone-7f3a");
    SseStream laptop = subscribe(b, "Member-ID", "ana", "Device-Id", "laptop-01");

    JsonNode fromA = a.awaitPresence("ana", HubFixture.devices(2, 2));
    JsonNode fromB = b.awaitPresence("ana", HubFixture.devices(2, 2));
    assertThat(deviceIds(fromA)).containsExactlyInAnyOrder("phone-7f3a", "laptop-01");
    assertThat(fromB.get("devices")).isEqualTo(fromA.get("devices"));
    for (JsonNode device : fromA.get("devices")) {
      assertThat(Instant.parse(device.get("since").asText())).isAfter(before);
    }

    JsonNode shipped = a.publishMember("ana", "ORDER_SHIPPED");
    assertThat(shipped.get("reached").asInt()).isEqualTo(2);
    String id = shipped.get("id").asText();
    assertThat(phone.next().id()).hasValue(id);
    assertThat(laptop.next().id()).hasValue(id);
    assertThat(b.publishMember("bob", "OFFLINE").get("reached").asInt())
        .as("nobody online")
        .isZero();

    laptop.close(); // the lid closes
    a.awaitPresence("ana", HubFixture.devices(1, 1));
    assertThat(a.publishMember("ana", "AGAIN").get("reached").asInt()).isEqualTo(1);
  }

  @Test
  void deviceMovingToTheOtherNodeReplacesItsOlderStreamAndResumesFromItsCursor() throws Exception {
    HubFixture a = node();
    HubFixture b = node();
    SseStream onA = subscribe(a, "Member-ID", "ana", "Device-Id", "phone");
    b.awaitPresence("ana", HubFixture.devices(1, 1));
    String one = b.publishMember("ana", "ONE").get("id").asText();
    assertThat(onA.next().id()).hasValue(one);

    // Back on B, with the same Device-Id: B's stream opens, then A's ends cleanly.
    SseStream onB = subscribe(b, "Member-ID", "ana", "Device-Id", "phone", "Last-Event-ID", one);
    assertThat(onA.awaitEnd(Duration.ofSeconds(15))).isTrue();
    assertThat(onA.endedCleanly()).isTrue();
    JsonNode presence = a.awaitPresence("ana", HubFixture.devices(1, 1));
    assertThat(deviceIds(presence)).containsExactly("phone");
    String two = a.publishMember("ana", "TWO").get("id").asText();
    assertThat(onB.next().id()).hasValue(two);
    assertThat(onA.pending()).isEmpty();

    // Off, two events, back on A without Last-Event-ID: the cursor B saved resumes it exactly.
    onB.close();
    a.awaitPresence("ana", HubFixture.devices(0, 0));
    awaitCursor(CursorKey.of("phone", Set.of("members/ana")), Long.parseLong(two));
    String three = b.publishMember("ana", "THREE").get("id").asText();
    String four = b.publishMember("ana", "FOUR").get("id").asText();
    SseStream back = subscribe(a, "Member-ID", "ana", "Device-Id", "phone");
    assertThat(back.next(2)).extracting(e -> e.id().orElseThrow()).containsExactly(three, four);
    String five = b.publishMember("ana", "FIVE").get("id").asText();
    assertThat(back.next().id()).hasValue(five);
  }

  /** Waits until the store holds {@code id} as the cursor of {@code key}; bounded. */
  private void awaitCursor(CursorKey key, long id) throws Exception {
    try (RedisEventLog log = RedisEventLog.builder().uri(TestRedis.URI).keyPrefix(prefix).build()) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      Optional<Long> cursor = log.cursor(key);
      while (!cursor.equals(Optional.of(id)) && System.nanoTime() < deadline) {
        Thread.sleep(25); // polling a condition, bounded by the deadline
        cursor = log.cursor(key);
      }
      assertThat(cursor).hasValue(id);
    }
  }

  @Test
  void presenceIsRefusedWhileRedisIsDownAndWrittenAgainWhenItComesBackEmpty() throws Exception {
    RedisProcess redis = new RedisProcess(dir, false);
    resources.add(redis);
    redis.start();
    HubFixture a = node(redis.uri());
    HubFixture b = node(redis.uri());
    subscribe(b, "Member-ID", "ana", "Device-Id", "laptop");
    a.awaitPresence("ana", HubFixture.devices(1, 1));

    redis.stop();
    long start = System.nanoTime();
    HttpResponse<String> down = a.get("/presence?member=ana");
    assertThat(down.statusCode()).as(down.body()).isEqualTo(503);
    assertThat(HubFixture.json(down.body()).get("error").asText()).isEqualTo("store_unavailable");
    assertThat(down.headers().firstValue("Retry-After")).isPresent();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    // The connection still answers the next request in order.
    assertThat(a.get("/healthz").statusCode()).isEqualTo(200);

    redis.start(); // empty: it kept nothing
    // B finds itself unknown at its next heartbeat (every 5 s) and writes its streams again.
    JsonNode back = a.awaitPresence("ana", HubFixture.devices(1, 1));
    assertThat(deviceIds(back)).containsExactly("laptop");
  }

  @Test
  void refusalsLeaveNothingInThePresence() throws Exception {
    HubFixture a = node();
    for (String query :
        List.of(
            "?topic=t&deviceId=" + "d".repeat(129),
            "?topic=t&deviceId=a%20b",
            "?topic=t&deviceId=")) {
      HttpResponse<String> answer = a.get("/events" + query);
      assertThat(answer.statusCode()).as(query).isEqualTo(400);
      assertThat(HubFixture.json(answer.body()).get("error").asText())
          .isEqualTo("device_id_invalid");
    }
    for (String query : List.of("", "?topic=a&member=b", "?topic=", "?member=a%00b")) {
      HttpResponse<String> answer = a.get("/presence" + query);
      assertThat(answer.statusCode()).as(query).isEqualTo(400);
      assertThat(HubFixture.json(answer.body()).get("error").asText()).isNotEmpty();
    }
    JsonNode t = HubFixture.json(a.get("/presence?topic=t").body());
    assertThat(t.get("devices")).isEmpty();
    assertThat(t.get("subscriptions").asInt()).isZero();
    RedisClient client = RedisClient.create(TestRedis.URI);
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      assertThat(connection.sync().keys("{" + prefix + "}p:*")).isEmpty();
      assertThat(connection.sync().keys("{" + prefix + "}r:*")).isEmpty();
    } finally {
      client.shutdown();
    }
  }

  @Test
  void eventsReachEveryStreamOfTheMemberOnBothNodesOnce() throws Exception {
    HubFixture a = node();
    HubFixture b = node();
    SseStream phone = subscribe(a, "Member-ID", "ana", "Device-Id", "phone");
    SseStream laptop = subscribe(b, "Member-ID", "ana", "Device-Id", "laptop");
    a.awaitPresence("ana", HubFixture.devices(2, 2));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      JsonNode answer = (i % 2 == 0 ? a : b).publishMember("ana", "E" + i);
      assertThat(answer.get("reached").asInt()).isEqualTo(2);
      ids.add(answer.get("id").asText());
    }
    assertThat(phone.next(5))
        .extracting(Event::id)
        .extracting(Optional::orElseThrow)
        .isEqualTo(ids);
    assertThat(laptop.next(5))
        .extracting(Event::id)
        .extracting(Optional::orElseThrow)
        .isEqualTo(ids);
  }
}
