package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.RedisProcess;
import dev.herald.redis.testing.TestRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Redis Cluster of three masters with a replica each, failing over while a publisher publishes and
 * subscribers read through {@link RedisEventLog}s on {@code redis-cluster://} ({@link
 * FailoverRun}): the test freezes the replica of the master that serves the deployment's slot
 * (SIGSTOP) and closes its replication connection, lets the master acknowledge a few more events,
 * kills it (SIGKILL) and lets the replica run, which the other masters then elect in its place.
 * Without WAIT what the master acknowledged after the stall is lost (printed); with {@code
 * minReplicas(1)} nothing acknowledged is. {@code -Dherald.failover.rounds=N} repeats each.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ClusterFailoverTest {
  @TempDir Path dir;

  private static int rounds() {
    return Integer.getInteger("herald.failover.rounds", 1);
  }

  @Test
  void withoutWaitAFailoverLosesWhatTheReplicaLackedButNeverSilently() throws Exception {
    for (int round = 0; round < rounds(); round++) {
      FailoverRun.Outcome outcome = failOver("nowait" + round, UnaryOperator.identity(), false);
      System.out.println("Cluster failover without WAIT: " + outcome.summary());
      assertThat(outcome.lost().size()).isGreaterThanOrEqualTo(outcome.acknowledgedWhileStalled());
      assertThat(outcome.lost()).allMatch(event -> !event.phase().equals("after"));
      assertThat(outcome.refusedButStored()).as("refused as not stored, yet stored").isEmpty();
      // The old master stays down: the node learns of the promotion from its adaptive topology
      // refreshes (about 3 s), not at the periodic one 30 s on (29 s before Connector allowed
      // an adaptive refresh every second).
      assertThat(outcome.failoverMillis())
          .as("ms from the kill to the first publish acknowledged again")
          .isLessThan(20_000);
    }
  }

  @Test
  void withMinReplicasAFailoverLosesNoAcknowledgedEvent() throws Exception {
    for (int round = 0; round < rounds(); round++) {
      FailoverRun.Outcome outcome =
          failOver("wait" + round, builder -> builder.minReplicas(1), true);
      System.out.println("Cluster failover with minReplicas(1): " + outcome.summary());
      assertThat(outcome.lost()).as("acknowledged events lost").isEmpty();
      assertThat(outcome.acknowledgedWhileStalled()).isZero();
      assertThat(outcome.refusedButStored()).as("refused as not stored, yet stored").isEmpty();
    }
  }

  private FailoverRun.Outcome failOver(
      String name, UnaryOperator<RedisEventLog.Builder> settings, boolean rejoin) throws Exception {
    Assumptions.assumeTrue(RedisCluster.isInstalled(), "redis-server or redis-cli is missing");
    String prefix = TestRedis.newPrefix();
    String slotKey = "{" + prefix + "}meta";
    try (RedisCluster cluster =
        RedisCluster.startWithReplicas(Files.createDirectories(dir.resolve(name)), 3)) {
      RedisProcess master = cluster.masterOf(slotKey);
      RedisProcess replica = cluster.replicaOf(master);
      FailoverRun run = new FailoverRun(cluster.uri(), prefix, settings);
      return run.run(
          new FailoverRun.Failover() {
            @Override
            public void stallReplication() throws Exception {
              master.stallReplicationTo(replica);
            }

            @Override
            public void killMaster() throws Exception {
              master.kill();
              replica.resume();
            }

            @Override
            public void awaitPromoted() {
              RedisProcess.await(
                  () -> cluster.masterOf(slotKey) == replica, "the replica serves the slot");
            }

            @Override
            public void rejoin() throws Exception {
              if (!rejoin) {
                return; // nothing waits for a replica
              }
              // It finds its cluster in its nodes.conf and learns it lost its slots: a replica.
              master.start();
              RedisProcess.await(
                  () -> {
                    String info = master.info("replication");
                    return info.contains("master_port:" + replica.port())
                        && info.contains("master_link_status:up");
                  },
                  "the old master replicates the new one",
                  90); // a full sync, slow on a loaded machine (see SentinelGroup)
            }
          });
    }
  }
}
