package dev.herald.redis.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A master, its replica and three Redis Sentinels (quorum two) as child processes on free ports
 * (127.0.0.1), for failover tests: {@link #start} returns once the replica is in sync and every
 * Sentinel knows the replica and the two other Sentinels, so a failover can happen.
 */
public final class SentinelGroup implements AutoCloseable {
  /** The name the Sentinels know the master by. */
  public static final String MASTER_NAME = "herald-failover";

  private final RedisProcess master;
  private final RedisProcess replica;
  private final List<RedisProcess> sentinels = new ArrayList<>();
  private final Path sentinelDir;

  private SentinelGroup(Path dir) throws Exception {
    master = new RedisProcess(Files.createDirectories(dir.resolve("master")), false);
    replica = RedisProcess.replicaOf(Files.createDirectories(dir.resolve("replica")), master);
    sentinelDir = Files.createDirectories(dir.resolve("sentinels"));
  }

  /** Starts it all and waits (bounded) until a failover could happen. */
  public static SentinelGroup start(Path dir) throws Exception {
    SentinelGroup group = new SentinelGroup(dir);
    try {
      group.master.start();
      group.replica.start();
      RedisProcess.await(
          () -> group.replica.info("replication").contains("master_link_status:up"), "in sync");
      for (int i = 0; i < 3; i++) {
        group.startSentinel();
      }
      // Sentinels find each other through hello messages on the master (every 2 s) and the
      // replica through the master's INFO; only then can they agree and elect.
      for (RedisProcess sentinel : group.sentinels) {
        RedisProcess.await(
            () -> {
              Map<String, String> state = masterState(sentinel);
              return "2".equals(state.get("num-other-sentinels"))
                  && "1".equals(state.get("num-slaves"));
            },
            "Sentinel " + sentinel.port() + " knows the replica and the other Sentinels");
      }
      return group;
    } catch (Exception | Error e) {
      group.close();
      throw e;
    }
  }

  /**
   * Starts one more Sentinel. Its port is picked right before it starts, and picked again if it was
   * taken meanwhile (a free port can become some connection's local port at any moment).
   */
  private void startSentinel() throws Exception {
    for (int attempt = 1; ; attempt++) {
      RedisProcess sentinel = RedisProcess.sentinel(sentinelDir, MASTER_NAME, master.port(), 2);
      try {
        sentinel.start();
        sentinels.add(sentinel);
        return;
      } catch (java.util.concurrent.ExecutionException e) {
        sentinel.close();
        if (attempt == 3 || !String.valueOf(e.getCause()).contains("Address already in use")) {
          throw e;
        }
      }
    }
  }

  /** The Herald URI: {@code redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3#name}. */
  public String uri() {
    return "redis-sentinel://"
        + sentinels.stream().map(s -> "127.0.0.1:" + s.port()).collect(Collectors.joining(","))
        + "#"
        + MASTER_NAME;
  }

  /** The master the group started with. */
  public RedisProcess master() {
    return master;
  }

  /** The replica the group started with. */
  public RedisProcess replica() {
    return replica;
  }

  /** The port of the master the Sentinels name now. */
  public int masterPort() {
    for (RedisProcess sentinel : sentinels) {
      try {
        return sentinelMasterPort(sentinel);
      } catch (RuntimeException e) {
        // ask the next one
      }
    }
    throw new IllegalStateException("no Sentinel answered");
  }

  /**
   * Waits (bounded) until every Sentinel names the replica as the master, has ended the failover,
   * and the replica says it is master.
   */
  public void awaitReplicaPromoted() {
    for (RedisProcess sentinel : sentinels) {
      RedisProcess.await(
          () -> sentinelMasterPort(sentinel) == replica.port(), "the replica is promoted");
    }
    // A Sentinel names the promoted replica as soon as it promotes it, while its failover is still
    // in progress (its master entry is the old master's until the failover ends). An old master
    // restarted in that window was once promoted again, empty, by the Sentinel that led the
    // failover, and the first replica then synced from it, losing what it held.
    for (RedisProcess sentinel : sentinels) {
      RedisProcess.await(
          () -> {
            Map<String, String> state = masterState(sentinel);
            return Integer.toString(replica.port()).equals(state.get("port"))
                && "master".equals(state.get("flags"));
          },
          "Sentinel " + sentinel.port() + " has ended the failover");
    }
    RedisProcess.await(
        () -> replica.info("replication").contains("role:master"), "the replica is master");
  }

  /**
   * Starts the killed master again (empty: it keeps no files) as a replica of the promoted one and
   * waits (bounded) until it is in sync.
   */
  public void restartOldMasterAsReplica() throws Exception {
    master.start();
    // As an operator would (the Sentinels would too, but only at their next look, up to 10 s on).
    master.call("REPLICAOF", "127.0.0.1", Integer.toString(replica.port()));
    RedisProcess.await(
        () -> master.info("replication").contains("master_port:" + replica.port()),
        "the old master replicates the new one");
    // A full sync (diskless, after Redis' 5 s delay), which a loaded CI machine has made take over
    // 30 s: bounded more loosely than the other steps.
    try {
      RedisProcess.await(
          () -> master.info("replication").contains("master_link_status:up"),
          "the old master is in sync",
          90);
    } catch (AssertionError e) {
      throw new AssertionError(
          e.getMessage()
              + "\nthe old master's replication: "
              + infoOrWhy(master)
              + "\nthe new master's replication: "
              + infoOrWhy(replica)
              + "\nthe old master's log:\n"
              + master.recentLog()
              + "\nthe new master's log:\n"
              + replica.recentLog(),
          e);
    }
  }

  private static String infoOrWhy(RedisProcess server) {
    try {
      return server.info("replication");
    } catch (RuntimeException e) {
      return "no answer: " + e;
    }
  }

  /** Kills every process. */
  @Override
  public void close() {
    sentinels.forEach(RedisProcess::close);
    replica.close();
    master.close();
  }

  private static Map<String, String> masterState(RedisProcess sentinel) {
    List<?> fields = (List<?>) sentinel.call("SENTINEL", "MASTER", MASTER_NAME);
    Map<String, String> state = new java.util.HashMap<>();
    for (int i = 0; i + 1 < fields.size(); i += 2) {
      state.put((String) fields.get(i), (String) fields.get(i + 1));
    }
    return state;
  }

  private static int sentinelMasterPort(RedisProcess sentinel) {
    List<?> address = (List<?>) sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME);
    return Integer.parseInt((String) address.get(1));
  }
}
