package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link PresenceAcrossNodesTest} on a real Redis Cluster of three masters: every test's keys live
 * on the third master while the nodes are seeded with the first two; and a node hears its control
 * channel whichever master a replacement is published on.
 */
class PresenceOnRedisClusterTest extends PresenceAcrossNodesTest {
  private static RedisCluster cluster;

  @BeforeAll
  static void sharedCluster() throws Exception {
    cluster = RedisCluster.shared();
  }

  @Override
  String uri() {
    List<RedisProcess> nodes = cluster.nodes();
    return "redis-cluster://127.0.0.1:" + nodes.get(0).port() + ",127.0.0.1:" + nodes.get(1).port();
  }

  @Override
  String newPrefix() {
    RedisProcess third = cluster.nodes().get(2);
    // Bounded: a random prefix lands on each of 3 masters with probability about 1/3.
    for (int i = 0; i < 1000; i++) {
      String prefix = TestRedis.newPrefix();
      if (cluster.masterOf("{" + prefix + "}nodes") == third) {
        return prefix;
      }
    }
    throw new IllegalStateException("no prefix found on the third master");
  }

  @Override
  void deleteKeys(String prefix) {
    TestRedis.deleteKeys(cluster.masterOf("{" + prefix + "}nodes").uri(), prefix);
  }

  @Test
  void aNodeHearsItsControlChannelWhicheverMasterPublishes() throws Exception {
    String prefix = newPrefix();
    ReplacementRecorder recorder =
        new ReplacementRecorder(
            0, (key, token) -> key.deviceId() + "/" + token + "/" + key.topicsText());
    List<String> replaced = recorder.replaced;
    RedisPresence presence = RedisPresence.builder().uri(uri()).keyPrefix(prefix).build();
    try {
      presence.bind(recorder);
      String channel = "{" + prefix + "}x:";
      for (RedisProcess master : cluster.nodes()) {
        RedisClient client = RedisClient.create(master.uri());
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
          String token = "t" + master.port();
          // Another node's channel first, on the same connection: it would arrive first.
          connection.sync().publish(channel + "someone-else", "x" + token + "\nphone\nmembers/ana");
          connection.sync().publish(channel + presence.node(), token + "\nphone\nmembers/ana");
          long deadline = System.nanoTime() + SECONDS.toNanos(15);
          while (!replaced.contains("phone/" + token + "/members/ana")
              && System.nanoTime() < deadline) {
            Thread.sleep(10); // polling a condition, bounded by the deadline
          }
        } finally {
          client.shutdown();
        }
      }
      List<String> tokens = new ArrayList<>();
      for (RedisProcess master : cluster.nodes()) {
        tokens.add("phone/t" + master.port() + "/members/ana");
      }
      assertThat(replaced).as("published on each master in turn").isEqualTo(tokens);
    } finally {
      presence.close();
    }
  }
}
