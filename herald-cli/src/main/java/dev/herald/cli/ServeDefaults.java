package dev.herald.cli;

import dev.herald.hub.Hub;
import dev.herald.server.Broker;
import dev.herald.server.Retention;
import dev.herald.stores.StoreSpec;
import java.util.Map;

/**
 * The defaults of {@code herald serve}'s flags, written as the flags are, from the constants of the
 * libraries that own them: one source, so the help, the README and the hub never disagree.
 */
final class ServeDefaults {
  private ServeDefaults() {}

  /** By the flag's long name. */
  static final Map<String, String> BY_FLAG =
      Map.ofEntries(
          Map.entry("--port", Integer.toString(Hub.DEFAULT_PORT)),
          Map.entry("--bind", Hub.DEFAULT_BIND),
          Map.entry("--store", StoreSpec.DEFAULT),
          Map.entry("--redis-key-prefix", StoreSpec.DEFAULT_REDIS_KEY_PREFIX),
          Map.entry(
              "--redis-min-replicas",
              Integer.toString(StoreSpec.RedisSettings.DEFAULT.minReplicas())),
          Map.entry(
              "--redis-min-replicas-timeout",
              Units.format(StoreSpec.RedisSettings.DEFAULT.minReplicasTimeout())),
          Map.entry("--heartbeat", Units.format(Broker.DEFAULT_HEARTBEAT)),
          Map.entry("--retention-count", Integer.toString(Retention.DEFAULT.maxCount())),
          Map.entry("--retention-age", Units.format(Retention.DEFAULT.maxAge())),
          Map.entry("--max-event-bytes", Units.formatSize(Hub.DEFAULT_MAX_EVENT_BYTES)),
          Map.entry("--max-buffer-bytes", Units.formatSize(Hub.DEFAULT_MAX_BUFFER_BYTES)),
          Map.entry("--max-connections", Integer.toString(Hub.defaultMaxConnections())),
          Map.entry("--max-connections-per-ip", "0"),
          Map.entry("--jwt-clock-skew", Units.format(Hub.DEFAULT_CLOCK_SKEW)),
          Map.entry(
              "--max-new-connections-per-second",
              Integer.toString(Hub.DEFAULT_NEW_CONNECTIONS_PER_SECOND)),
          Map.entry("--publish-rate", rate(Hub.DEFAULT_PUBLISH_RATE)),
          Map.entry("--max-batch-events", Integer.toString(Hub.DEFAULT_MAX_BATCH_EVENTS)),
          Map.entry("--idempotency-window", Units.format(Hub.DEFAULT_IDEMPOTENCY_WINDOW)),
          Map.entry("--request-head-timeout", Units.format(Hub.DEFAULT_REQUEST_HEAD_TIMEOUT)),
          Map.entry("--request-body-timeout", Units.format(Hub.DEFAULT_REQUEST_BODY_TIMEOUT)),
          Map.entry("--idle-timeout", Units.format(Hub.DEFAULT_IDLE_TIMEOUT)),
          Map.entry("--drain", Units.format(Hub.DEFAULT_DRAIN)),
          Map.entry(
              "--max-streams-per-connection",
              Integer.toString(Hub.DEFAULT_MAX_STREAMS_PER_CONNECTION)));

  private static String rate(double rate) {
    return rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate);
  }
}
