package dev.herald.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code herald serve --store redis-sentinel://...} as a real process, with a redis-server master
 * (and a replica) and a Redis Sentinel watching it as child processes: the hub finds the master
 * through the Sentinel, publishes and subscribes on it, and follows it through a failover.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServeOnSentinelProcessTest {
  private static final String MASTER = "herald-test-master";

  @TempDir Path dir;

  private final String prefix = TestRedis.newPrefix();
  private Process serve;

  @AfterEach
  void stopServe() {
    if (serve != null) {
      serve.destroyForcibly();
    }
  }

  /** Starts {@code herald serve --store store} and returns the env that points the CLI at it. */
  private Map<String, String> serve(String store) throws Exception {
    HeraldProcess.Serving serving =
        HeraldProcess.serve(
            dir, "serve", "--port", "0", "--store", store, "--redis-key-prefix", prefix);
    serve = serving.process();
    assertThat(serving.banner().readLine()).isEqualTo("  store:     " + store);
    return Map.of("HERALD_URL", serving.url());
  }

  private static String publish(Map<String, String> env, String data) {
    CliRun published = CliRun.herald(env, "publish", "--topic", "news", "--data", data);
    assertThat(published.exit()).as(published.err()).isZero();
    return published.out().strip();
  }

  private static List<String> listen(Map<String, String> env, int events) {
    CliRun listened =
        CliRun.herald(
            env,
            "listen",
            "--last-event-id",
            "earliest",
            "--max-events",
            Integer.toString(events),
            "--topic",
            "news");
    assertThat(listened.exit()).as(listened.err()).isZero();
    return listened.out().lines().toList();
  }

  private static String line(String data, String id) {
    return "{\"type\":\"message\",\"data\":\"" + data + "\",\"id\":\"" + id + "\"}";
  }

  private void stopServeGracefully() throws InterruptedException {
    serve.destroy(); // SIGTERM
    assertThat(serve.waitFor(15, TimeUnit.SECONDS)).as("serve exited").isTrue();
    assertThat(serve.exitValue()).isZero();
  }

  @Test
  void serveFindsTheMasterThroughSentinelAndPublishesAndSubscribesOnIt() throws Exception {
    try (RedisProcess master = new RedisProcess(dir, false);
        RedisProcess sentinel = RedisProcess.sentinel(dir, MASTER, master.port())) {
      master.start();
      sentinel.start();
      // The Sentinel's port, not the master's: only asking the Sentinel leads to the master.
      Map<String, String> env =
          serve("redis-sentinel://127.0.0.1:" + sentinel.port() + "/0#" + MASTER);

      String id = publish(env, "via sentinel");

      assertThat(listen(env, 1)).containsExactly(line("via sentinel", id));
      stopServeGracefully();
      // The events live on the master the Sentinel named, and nowhere near the shared Redis.
      assertThat(TestRedis.deleteKeys(master.uri(), prefix)).isPositive();
      assertThat(TestRedis.deleteKeys(TestRedis.URI, prefix)).isZero();
    }
  }

  @Test
  void serveFollowsTheMasterThroughAFailoverWithoutLosingAnAcknowledgedEvent() throws Exception {
    Path masterDir = Files.createDirectories(dir.resolve("master"));
    Path replicaDir = Files.createDirectories(dir.resolve("replica"));
    try (RedisProcess master = new RedisProcess(masterDir, false);
        RedisProcess replica = RedisProcess.replicaOf(replicaDir, master);
        RedisProcess sentinel = RedisProcess.sentinel(dir, MASTER, master.port())) {
      master.start();
      replica.start();
      RedisProcess.await(
          () -> replica.info("replication").contains("master_link_status:up"),
          "the replica is in sync");
      sentinel.start();
      Map<String, String> env =
          serve("redis-sentinel://127.0.0.1:" + sentinel.port() + "#" + MASTER);
      String before = publish(env, "before");
      RedisClient client = RedisClient.create(master.uri());
      try (StatefulRedisConnection<String, String> connection = client.connect()) {
        // Replication is asynchronous: the failover keeps what reached the replica.
        assertThat(connection.sync().waitForReplication(1, 5000)).isEqualTo(1);
      } finally {
        client.shutdown();
      }

      master.close(); // SIGKILL
      RedisProcess.await(
          () -> masterPort(sentinel) == replica.port(), "the Sentinel promoted the replica");
      // Publishes are refused (503) until the hub has reconnected to the new master.
      String[] after = new String[1];
      RedisProcess.await(
          () -> {
            CliRun run = CliRun.herald(env, "publish", "--topic", "news", "--data", "after");
            after[0] = run.out().strip();
            return run.exit() == 0;
          },
          "a publish succeeds on the new master");

      assertThat(listen(env, 2)).containsExactly(line("before", before), line("after", after[0]));
      stopServeGracefully();
      assertThat(TestRedis.deleteKeys(replica.uri(), prefix)).isPositive();
    }
  }

  private static int masterPort(RedisProcess sentinel) {
    RedisClient client = RedisClient.create(sentinel.uri());
    try (StatefulRedisSentinelConnection<String, String> connection = client.connectSentinel()) {
      return ((InetSocketAddress) connection.sync().getMasterAddrByName(MASTER)).getPort();
    } finally {
      client.shutdown();
    }
  }
}
