package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.redis.testing.RedisCluster;
import dev.herald.redis.testing.SentinelGroup;
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
 * A Redis master with a replica under three Sentinels, failing over while a publisher publishes and
 * subscribers read through {@link RedisEventLog}s on {@code redis-sentinel://} ({@link
 * FailoverRun}): the test freezes the replica (SIGSTOP) and closes its replication connection, lets
 * the master acknowledge a few more events, kills the master (SIGKILL) and lets the replica run;
 * the Sentinels promote it. Replication is asynchronous, so what the master acknowledged after the
 * stall is lost; the test prints how much and checks that no subscriber misses an acknowledged
 * event without a {@code reset}. {@code -Dherald.failover.rounds=N} repeats it.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SentinelFailoverTest {
  @TempDir Path dir;

  private static int rounds() {
    return Integer.getInteger("herald.failover.rounds", 1);
  }

  @Test
  void withoutWaitAFailoverLosesWhatTheReplicaLackedButNeverSilently() throws Exception {
    for (int round = 0; round < rounds(); round++) {
      FailoverRun.Outcome outcome = failOver(round, UnaryOperator.identity(), false);
      System.out.println("Sentinel failover without WAIT: " + outcome.summary());
      // What the master acknowledged after the stall was never replicated (and a few events
      // acknowledged while the stall began may not have been).
      assertThat(outcome.lost().size()).isGreaterThanOrEqualTo(outcome.acknowledgedWhileStalled());
      assertThat(outcome.lost()).allMatch(event -> !event.phase().equals("after"));
      assertThat(outcome.refusedButStored()).as("refused as not stored, yet stored").isEmpty();
    }
  }

  @Test
  void withMinReplicasAFailoverLosesNoAcknowledgedEvent() throws Exception {
    for (int round = 0; round < rounds(); round++) {
      FailoverRun.Outcome outcome = failOver(round, builder -> builder.minReplicas(1), true);
      System.out.println("Sentinel failover with minReplicas(1): " + outcome.summary());
      assertThat(outcome.lost()).as("acknowledged events lost").isEmpty();
      // The stalled replica confirmed nothing: what the master stored then was refused.
      assertThat(outcome.acknowledgedWhileStalled()).isZero();
      assertThat(outcome.refusedButStored()).as("refused as not stored, yet stored").isEmpty();
    }
  }

  private FailoverRun.Outcome failOver(
      int round, UnaryOperator<RedisEventLog.Builder> settings, boolean rejoin) throws Exception {
    Assumptions.assumeTrue(RedisCluster.isInstalled(), "redis-server or redis-cli is missing");
    try (SentinelGroup group =
        SentinelGroup.start(Files.createDirectories(dir.resolve("round" + round)))) {
      FailoverRun run = new FailoverRun(group.uri(), TestRedis.newPrefix(), settings);
      return run.run(
          new FailoverRun.Failover() {
            @Override
            public void stallReplication() throws Exception {
              group.master().stallReplicationTo(group.replica());
            }

            @Override
            public void killMaster() throws Exception {
              group.master().kill();
              group.replica().resume();
            }

            @Override
            public void awaitPromoted() {
              group.awaitReplicaPromoted();
            }

            @Override
            public void rejoin() throws Exception {
              if (!rejoin) {
                return; // nothing waits for a replica
              }
              group.restartOldMasterAsReplica();
            }
          });
    }
  }
}
