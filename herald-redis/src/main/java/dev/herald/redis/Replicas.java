package dev.herald.redis;

import dev.herald.server.ReplicationUnconfirmedException;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Waits until enough replicas confirmed this node's writes ({@code WAIT}), for {@link
 * RedisEventLog.Builder#minReplicas}. {@code WAIT} counts the replicas that acknowledged every
 * write made so far on the connection it is sent on, so it goes on the connection the publish
 * script ran on: the command connection, or on Cluster the connection Lettuce routes the
 * deployment's slot to (Lettuce keeps one write connection per master, keyed by host and port, for
 * routed commands and for {@code getConnectionAsync(host, port)} alike).
 */
final class Replicas {
  private final int required;
  private final long timeoutMillis;
  private final Connections connections;
  private final int slot;

  /**
   * @param required replicas that must confirm; 0 for none (then nothing is sent)
   * @param slotKey a key of the deployment: its slot's master is asked on Cluster
   */
  Replicas(int required, long timeoutMillis, Connections connections, String slotKey) {
    this.required = required;
    this.timeoutMillis = timeoutMillis;
    this.connections = connections;
    this.slot = SlotHash.getSlot(slotKey);
  }

  /** Whether appends wait for replicas at all. */
  boolean required() {
    return required > 0;
  }

  /**
   * Sends {@code WAIT}: completes normally once {@code required} replicas confirmed, or
   * exceptionally with {@link ReplicationUnconfirmedException} (fewer confirmed before the timeout,
   * or Redis did not answer the {@code WAIT}: then none counts as confirmed).
   */
  CompletableFuture<Void> confirm() {
    CompletableFuture<Long> counted;
    try {
      counted = send();
    } catch (RuntimeException e) {
      counted = CompletableFuture.failedFuture(e);
    }
    return counted.handle(
        (count, error) -> {
          if (error != null) {
            Throwable cause = error instanceof CompletionException ? error.getCause() : error;
            throw unconfirmed(0, "Redis did not answer WAIT: " + cause.getMessage());
          }
          if (count < required) {
            throw unconfirmed(count.intValue(), null);
          }
          return null;
        });
  }

  private CompletableFuture<Long> send() {
    StatefulConnection<String, String> connection = connections.connection();
    if (connection instanceof StatefulRedisClusterConnection<String, String> cluster) {
      RedisClusterNode master = cluster.getPartitions().getMasterBySlot(slot);
      if (master == null) {
        return CompletableFuture.failedFuture(
            new IllegalStateException("no master serves slot " + slot));
      }
      return cluster
          .getConnectionAsync(master.getUri().getHost(), master.getUri().getPort())
          .thenCompose(
              node ->
                  node.async().waitForReplication(required, timeoutMillis).toCompletableFuture());
    }
    return connections.redis().waitForReplication(required, timeoutMillis).toCompletableFuture();
  }

  private ReplicationUnconfirmedException unconfirmed(int confirmed, String detail) {
    return new ReplicationUnconfirmedException(
        "stored on the primary Redis at "
            + connections.target()
            + ", confirmed by "
            + confirmed
            + " of "
            + required
            + " replicas within "
            + timeoutMillis
            + " ms"
            + (detail == null ? "" : " (" + detail + ")")
            + "; it may be lost if the primary fails",
        confirmed,
        required);
  }
}
