package dev.herald.redis.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.lettuce.core.cluster.SlotHash;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real Redis Cluster of child processes on free ports (127.0.0.1), without persistence: masters
 * only, or each with one replica ({@link #startWithReplicas}). {@link #start} creates it with
 * {@code redis-cli --cluster create} and returns once every node says {@code cluster_state:ok};
 * {@link #close} kills the processes.
 */
public final class RedisCluster implements AutoCloseable {
  private static final String CLI = "/usr/bin/redis-cli";
  private static RedisCluster shared;

  private final List<RedisProcess> nodes = new ArrayList<>();

  private RedisCluster() {}

  /** Whether redis-server and redis-cli are installed (tests skip otherwise). */
  public static boolean isInstalled() {
    return RedisProcess.isInstalled() && Files.isExecutable(Path.of(CLI));
  }

  /**
   * Starts {@code masters} nodes (3 or more: {@code --cluster create} needs 3), joins them and
   * waits (bounded) until the cluster is ok.
   *
   * @param dir an empty directory for the nodes' cluster config files
   */
  /**
   * The cluster of three masters every test of this JVM shares (starting one takes seconds):
   * started on first use, stopped when the JVM exits. Tests keep apart by key prefix. Skips the
   * calling test (a JUnit assumption) when redis-server or redis-cli is missing.
   */
  public static synchronized RedisCluster shared() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        isInstalled(), "redis-server or redis-cli is missing");
    if (shared == null) {
      Path dir = Files.createTempDirectory("herald-redis-cluster");
      shared = start(dir, 3);
      RedisCluster started = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(started::close, "redis-cluster-stop"));
    }
    return shared;
  }

  public static RedisCluster start(Path dir, int masters) throws Exception {
    return start(dir, masters, false);
  }

  /**
   * Like {@link #start(Path, int)}, each master with one replica ({@code --cluster-replicas 1}),
   * and a node timeout of one second, so a replica takes over within seconds of its master's death;
   * returns once every replica is in sync.
   */
  public static RedisCluster startWithReplicas(Path dir, int masters) throws Exception {
    return start(dir, masters, true);
  }

  private static RedisCluster start(Path dir, int masters, boolean replicas) throws Exception {
    RedisCluster cluster = new RedisCluster();
    try {
      for (int i = 0; i < (replicas ? 2 * masters : masters); i++) {
        Path nodeDir = Files.createDirectories(dir.resolve("node" + i));
        RedisProcess node =
            new RedisProcess(
                nodeDir,
                false,
                List.of(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    nodeDir.resolve("nodes.conf").toString(),
                    // An explicit bus port: port + 10000 may be above 65535 or taken.
                    "--cluster-port",
                    Integer.toString(RedisProcess.freePort()),
                    "--cluster-node-timeout",
                    replicas ? "1000" : "15000"));
        cluster.nodes.add(node);
        node.start();
      }
      List<String> create = new ArrayList<>(List.of(CLI, "--cluster", "create"));
      for (RedisProcess node : cluster.nodes) {
        create.add("127.0.0.1:" + node.port());
      }
      if (replicas) {
        create.addAll(List.of("--cluster-replicas", "1"));
      }
      create.add("--cluster-yes");
      Process cli = new ProcessBuilder(create).redirectErrorStream(true).start();
      boolean exited = cli.waitFor(30, TimeUnit.SECONDS);
      String output = new String(cli.getInputStream().readAllBytes(), UTF_8);
      if (!exited || cli.exitValue() != 0) {
        cli.destroyForcibly();
        throw new IllegalStateException("redis-cli --cluster create failed:\n" + output);
      }
      cluster.awaitOk();
      if (replicas) {
        for (RedisProcess node : cluster.nodes) {
          RedisProcess.await(
              () -> {
                String info = node.info("replication");
                return info.contains("role:master") || info.contains("master_link_status:up");
              },
              "replica " + node.port() + " in sync");
        }
      }
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  /** The seed URI of the whole cluster: {@code redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...}. */
  public String uri() {
    return "redis-cluster://"
        + nodes.stream().map(n -> "127.0.0.1:" + n.port()).collect(Collectors.joining(","));
  }

  /** The nodes, in start order. */
  public List<RedisProcess> nodes() {
    return List.copyOf(nodes);
  }

  /** The replica of {@code master}, read from {@code CLUSTER NODES}. */
  public RedisProcess replicaOf(RedisProcess master) {
    String myId = (String) master.call("CLUSTER", "MYID");
    for (String line : ((String) master.call("CLUSTER", "NODES")).split("\n")) {
      String[] fields = line.split(" ");
      if (fields.length > 3 && fields[3].equals(myId) && fields[2].contains("slave")) {
        int port = Integer.parseInt(fields[1].substring(fields[1].indexOf(':') + 1).split("@")[0]);
        return nodes.stream().filter(n -> n.port() == port).findFirst().orElseThrow();
      }
    }
    throw new IllegalStateException("no replica of " + master.port());
  }

  /** The master serving {@code key}'s hash slot now, read from {@code CLUSTER SLOTS}. */
  public RedisProcess masterOf(String key) {
    int slot = SlotHash.getSlot(key);
    // Asked of a node that runs: a test may have killed one.
    RedisProcess asked = nodes.stream().filter(RedisProcess::isAlive).findFirst().orElseThrow();
    for (Object range : (List<?>) asked.call("CLUSTER", "SLOTS")) {
      List<?> fields = (List<?>) range;
      if (slot >= ((Number) fields.get(0)).longValue()
          && slot <= ((Number) fields.get(1)).longValue()) {
        int port = ((Number) ((List<?>) fields.get(2)).get(1)).intValue();
        return nodes.stream().filter(n -> n.port() == port).findFirst().orElseThrow();
      }
    }
    throw new IllegalStateException("no master serves slot " + slot);
  }

  /** Kills every node. */
  @Override
  public void close() {
    for (RedisProcess node : nodes) {
      node.close();
    }
  }

  /** Waits (bounded) until every node reports {@code cluster_state:ok} and knows every node. */
  private void awaitOk() {
    for (RedisProcess node : nodes) {
      RedisProcess.await(
          () -> {
            String info = (String) node.call("CLUSTER", "INFO");
            return info.contains("cluster_state:ok")
                && info.contains("cluster_known_nodes:" + nodes.size());
          },
          "node " + node.port() + " sees the cluster ok, with all " + nodes.size() + " nodes");
    }
  }
}
