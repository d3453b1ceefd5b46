package dev.herald.spring.boot.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Broker;
import dev.herald.server.ReplicationUnconfirmedException;
import dev.herald.server.Retention;
import dev.herald.server.servlet.EventStreams;
import dev.herald.spring.boot.HeraldPublisher;
import dev.herald.spring.boot.autoconfigure.HeraldProperties;
import dev.herald.spring.boot.mvc.MvcApp;
import dev.herald.spring.boot.testing.StreamClient;
import dev.herald.spring.boot.testing.TestApps;
import dev.herald.stores.StoreSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.context.ConfigurableApplicationContext;

/** {@code herald.store} in the hub's syntax: durable SQLite, shared Redis, and refusals. */
@Timeout(90)
class StoreTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static List<String> publish(ConfigurableApplicationContext context, String prefix, int n)
      throws Exception {
    HeraldPublisher publisher = context.getBean(HeraldPublisher.class);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(
          Long.toString(publisher.publish("rooms/r", prefix + i).get(10, TimeUnit.SECONDS).id()));
    }
    return ids;
  }

  @Test
  void sqliteStoreKeepsHistoryAcrossARestartAndClientsResumeExactly(@TempDir Path dir)
      throws Exception {
    String store = "herald.store=sqlite:" + dir.resolve("data/events.db");
    List<String> published = new ArrayList<>();
    try (ConfigurableApplicationContext first = TestApps.start(MvcApp.class, store)) {
      published.addAll(publish(first, "before restart ", 5));
      assertThat(first.getBean(Broker.class).log().getClass().getSimpleName())
          .isEqualTo("SqliteEventLog");
    }
    try (ConfigurableApplicationContext second = TestApps.start(MvcApp.class, store)) {
      published.addAll(publish(second, "after restart ", 5));
      try (StreamClient client =
          StreamClient.open(TestApps.uri(second, "/rooms/events?room=r"), published.get(2))) {
        assertThat(client.take(7, WAIT))
            .extracting(e -> e.id().orElseThrow())
            .containsExactlyElementsOf(published.subList(3, 10));
      }
    }
  }

  @Test
  void redisStoreSharesOneHistoryBetweenInstances() throws Exception {
    String prefix = TestRedis.newPrefix();
    String[] properties = {
      "herald.store=" + TestRedis.URI,
      "herald.redis-key-prefix=" + prefix,
      "herald.retention.count=50"
    };
    try (ConfigurableApplicationContext a = TestApps.start(MvcApp.class, properties);
        ConfigurableApplicationContext b = TestApps.start(MvcApp.class, properties)) {
      try (StreamClient onA = StreamClient.open(TestApps.uri(a, "/rooms/events?room=r"), "")) {
        // Published on the other instance, streamed live from this one.
        List<String> fromB = publish(b, "from b ", 3);
        assertThat(onA.take(3, WAIT))
            .extracting(e -> e.id().orElseThrow())
            .containsExactlyElementsOf(fromB);
        // A client that moves to instance B resumes there, exactly.
        List<String> more = publish(a, "from a ", 2);
        try (StreamClient onB =
            StreamClient.open(TestApps.uri(b, "/rooms/events?room=r"), fromB.get(0))) {
          List<String> expected = new ArrayList<>(fromB.subList(1, 3));
          expected.addAll(more);
          assertThat(onB.take(4, WAIT))
              .extracting(e -> e.id().orElseThrow())
              .containsExactlyElementsOf(expected);
        }
      }
      assertThat(a.getBean(Broker.class).log().getClass().getSimpleName())
          .isEqualTo("RedisEventLog");
    } finally {
      TestRedis.deleteKeys(TestRedis.URI, prefix);
    }
  }

  @Test
  void redisMinReplicasMakeAPublishNoReplicaConfirmedFail(@TempDir Path dir) throws Exception {
    // A Redis of the test's own, with no replica: nothing can confirm.
    try (RedisProcess redis = new RedisProcess(dir, false)) {
      redis.start();
      try (ConfigurableApplicationContext context =
          TestApps.start(
              MvcApp.class,
              "herald.store=" + redis.uri(),
              "herald.redis-min-replicas=1",
              "herald.redis-min-replicas-timeout=200ms")) {
        HeraldPublisher publisher = context.getBean(HeraldPublisher.class);
        assertThatThrownBy(
                () -> publisher.publish("rooms/r", "unconfirmed").get(10, TimeUnit.SECONDS))
            .hasCauseInstanceOf(ReplicationUnconfirmedException.class)
            .cause()
            .satisfies(
                e -> {
                  ReplicationUnconfirmedException unconfirmed = (ReplicationUnconfirmedException) e;
                  assertThat(unconfirmed.confirmed()).isZero();
                  assertThat(unconfirmed.required()).isEqualTo(1);
                });
      }
    }
    assertThatThrownBy(
            () ->
                TestApps.start(
                    MvcApp.class, "herald.store=" + TestRedis.URI, "herald.redis-min-replicas=-1"))
        .rootCause()
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the number of replicas to wait for must not be negative: -1");
  }

  @Test
  void anUnknownStoreStopsTheApplicationWithTheFormsItAccepts() {
    assertThatThrownBy(() -> TestApps.start(MvcApp.class, "herald.store=mongodb://127.0.0.1"))
        .rootCause()
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown store \"mongodb://127.0.0.1\"")
        .hasMessageContaining("sqlite:<path>")
        .hasMessageContaining("redis-sentinel://");
  }

  @Test
  void defaultsAreTheLibrariesDefaults() {
    HeraldProperties properties = new HeraldProperties();

    assertThat(properties.getStore()).isEqualTo("memory");
    assertThat(properties.getHeartbeat()).isEqualTo(Broker.DEFAULT_HEARTBEAT);
    assertThat(properties.getMaxBufferBytes().toBytes())
        .isEqualTo(EventStreams.DEFAULT_MAX_BUFFER_BYTES);
    assertThat(properties.getRedisKeyPrefix()).isEqualTo(StoreSpec.DEFAULT_REDIS_KEY_PREFIX);
    assertThat(properties.getRetention().getCount()).isEqualTo(Retention.DEFAULT.maxCount());
    assertThat(properties.getRetention().getAge()).isEqualTo(Retention.DEFAULT.maxAge());
    assertThat(properties.isFsync()).isFalse();
    assertThat(properties.getRedisMinReplicas())
        .isEqualTo(StoreSpec.RedisSettings.DEFAULT.minReplicas());
    assertThat(properties.getRedisMinReplicasTimeout())
        .isEqualTo(StoreSpec.RedisSettings.DEFAULT.minReplicasTimeout());
    assertThat(properties.getMvc().getPath()).isNull();
    assertThat(properties.getWebflux().getPath()).isNull();
  }

  @Test
  void configuredRetentionAndHeartbeatReachTheBroker() throws Exception {
    try (ConfigurableApplicationContext context =
        TestApps.start(MvcApp.class, "herald.retention.count=3", "herald.heartbeat=0s")) {
      List<String> published = publish(context, "kept ", 5);
      try (StreamClient client =
          StreamClient.open(TestApps.uri(context, "/rooms/events?room=r"), published.get(0))) {
        // Retention kept the newest 3: resuming after the first is no longer exact.
        Event reset = client.next(WAIT);
        assertThat(reset.type()).isEqualTo("reset");
        assertThat(reset.data()).contains("\"reason\":\"expired\"");
        assertThat(client.take(3, WAIT))
            .extracting(e -> e.id().orElseThrow())
            .containsExactlyElementsOf(published.subList(2, 5));
        // No heartbeats: after the opening comment, silence.
        assertThat(client.poll(Duration.ofMillis(300))).isEmpty();
        assertThat(client.comments()).containsExactly("ok");
      }
    }
  }
}
