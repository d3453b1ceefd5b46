package dev.herald.stores;

import dev.herald.redis.RedisEventLog;
import dev.herald.redis.RedisPresence;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import dev.herald.sqlite.SqliteEventLog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code --store} setting: {@code memory}, {@code sqlite:<path>}, {@code redis://...}, a Redis
 * Cluster's seed nodes {@code redis-cluster://host:port[,host:port...]}, or the Sentinels watching
 * a Redis master, {@code redis-sentinel://host:port[,host:port...][/db]#<master>} (Lettuce's
 * syntax; the client asks the Sentinels where the master is, again after each failover). Parsed up
 * front so a typo is refused with a sentence before anything is opened.
 *
 * @param kind which store
 * @param location the file path (sqlite) or URL (redis); empty for memory
 */
public record StoreSpec(Kind kind, String location) {
  /** The stores the spec can name. */
  public enum Kind {
    /** In-memory: nothing survives a restart. */
    MEMORY,
    /** One SQLite file: durable on one machine. */
    SQLITE,
    /** Redis, standalone, behind Sentinel or a Redis Cluster: the store of a cluster of nodes. */
    REDIS
  }

  /** The default store: a SQLite file under the working directory. */
  public static final String DEFAULT = "sqlite:./herald-data/events.db";

  /** The Redis forms, as error messages list them. */
  private static final String REDIS_FORMS =
      "redis://[:password@]host[:port][/db] (rediss:// for TLS), for a Redis Cluster"
          + " redis-cluster://[:password@]host:port[,host:port...] (rediss-cluster:// for TLS), or"
          + " for Sentinel redis-sentinel://[:password@]host:port[,host:port...][/db]#<master>"
          + " (rediss-sentinel:// for TLS)";

  /**
   * Parses a store spec.
   *
   * @throws IllegalArgumentException saying which forms are accepted
   */
  public static StoreSpec parse(String spec) {
    String trimmed = spec.trim();
    String lower = trimmed.toLowerCase(Locale.ROOT);
    if (lower.equals("memory")) {
      return new StoreSpec(Kind.MEMORY, "");
    }
    if (lower.startsWith("sqlite:")) {
      String path = trimmed.substring("sqlite:".length());
      if (path.isEmpty()) {
        throw new IllegalArgumentException(
            "store \"" + spec + "\" names no file; use sqlite:<path>, e.g. " + DEFAULT);
      }
      return new StoreSpec(Kind.SQLITE, path);
    }
    if (lower.startsWith("redis://")
        || lower.startsWith("rediss://")
        || lower.startsWith("redis-cluster://")
        || lower.startsWith("rediss-cluster://")
        || lower.startsWith("redis-sentinel://")
        || lower.startsWith("rediss-sentinel://")) {
      try {
        RedisEventLog.builder().uri(trimmed); // checks the URL, connects to nothing
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(
            "store \""
                + new StoreSpec(Kind.REDIS, trimmed)
                + "\" is not a Redis URL; use "
                + REDIS_FORMS,
            e);
      }
      return new StoreSpec(Kind.REDIS, trimmed);
    }
    throw new IllegalArgumentException(
        "unknown store \""
            + spec
            + "\"; use memory, sqlite:<path> (default "
            + DEFAULT
            + "), redis://host:port, redis-cluster://host:port[,host:port...] or"
            + " redis-sentinel://host:port[,host:port...]#<master>");
  }

  /** The key prefix of the Redis store unless configured otherwise. */
  public static final String DEFAULT_REDIS_KEY_PREFIX = "herald:";

  /**
   * Opens the store; Redis with the key prefix {@value #DEFAULT_REDIS_KEY_PREFIX}.
   *
   * @throws dev.herald.server.StoreUnavailableException if the store cannot be opened or reached
   */
  public EventLog open(Retention retention, boolean fsync) {
    return open(retention, fsync, DEFAULT_REDIS_KEY_PREFIX);
  }

  /**
   * Opens the store. {@code fsync} applies to SQLite only; {@code redisKeyPrefix} to Redis only
   * (hub nodes of one deployment share it, deployments sharing one Redis need different ones).
   *
   * @throws dev.herald.server.StoreUnavailableException if the SQLite file cannot be opened or
   *     Redis cannot be reached
   * @throws IllegalArgumentException if the Redis URL is malformed
   */
  public EventLog open(Retention retention, boolean fsync, String redisKeyPrefix) {
    return open(retention, fsync, RedisSettings.DEFAULT.withKeyPrefix(redisKeyPrefix));
  }

  /**
   * Opens the store. {@code fsync} applies to SQLite only, {@code redis} to Redis only.
   *
   * @throws dev.herald.server.StoreUnavailableException if the SQLite file cannot be opened or
   *     Redis cannot be reached
   * @throws IllegalArgumentException if the Redis URL is malformed
   */
  public EventLog open(Retention retention, boolean fsync, RedisSettings redis) {
    switch (kind) {
      case MEMORY:
        return MemoryEventLog.builder().retention(retention).build();
      case SQLITE:
        Path path = Path.of(location);
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
          try {
            java.nio.file.Files.createDirectories(parent);
          } catch (java.io.IOException e) {
            throw new dev.herald.server.StoreUnavailableException(
                "cannot create the directory " + parent + " for the SQLite store", e);
          }
        }
        return SqliteEventLog.builder().path(path).retention(retention).fsync(fsync).build();
      default:
        RedisEventLog.Builder builder =
            RedisEventLog.builder()
                .uri(location)
                .keyPrefix(redis.keyPrefix())
                .retention(retention)
                .minReplicas(redis.minReplicas())
                .minReplicasTimeout(redis.minReplicasTimeout());
        if (redis.minReplicas() > 0) {
          // WAIT blocks for up to its timeout; the command that carries it must outlast it.
          Duration needed = redis.minReplicasTimeout().plusSeconds(1);
          if (needed.compareTo(RedisEventLog.DEFAULT_COMMAND_TIMEOUT) > 0) {
            builder.commandTimeout(needed);
          }
        }
        return builder.build();
    }
  }

  /**
   * The cluster-wide presence that goes with the store: for Redis, a {@link RedisPresence} on the
   * same Redis and key prefix as the log (so device streams replace each other, and presence and
   * reach count every node); none for the single-node stores.
   *
   * @throws dev.herald.server.StoreUnavailableException if Redis cannot be reached
   */
  public Optional<Presence> presence(String redisKeyPrefix) {
    if (kind != Kind.REDIS) {
      return Optional.empty();
    }
    return Optional.of(RedisPresence.builder().uri(location).keyPrefix(redisKeyPrefix).build());
  }

  /**
   * The presence that goes with {@code log}, opened by {@link #open} from this spec: like {@link
   * #presence(String)}, and counting reach inside the log's publish calls (no call of its own per
   * publish) when the log is this spec's Redis log with the same key prefix.
   *
   * @throws dev.herald.server.StoreUnavailableException if Redis cannot be reached
   */
  public Optional<Presence> presence(EventLog log, String redisKeyPrefix) {
    if (kind != Kind.REDIS) {
      return Optional.empty();
    }
    RedisPresence.Builder builder = RedisPresence.builder().uri(location).keyPrefix(redisKeyPrefix);
    if (log instanceof RedisEventLog redis) {
      builder.log(redis);
    }
    return Optional.of(builder.build());
  }

  /**
   * The settings of a Redis store: the key prefix (hub nodes of one deployment share it,
   * deployments sharing one Redis need different ones) and how many replicas must confirm a publish
   * before it is acknowledged (see {@link RedisEventLog.Builder#minReplicas}), within what time.
   *
   * @param keyPrefix prefix of every key
   * @param minReplicas replicas that must confirm a publish; 0 for none
   * @param minReplicasTimeout how long a publish waits for them
   */
  public record RedisSettings(String keyPrefix, int minReplicas, Duration minReplicasTimeout) {
    /** Key prefix {@value StoreSpec#DEFAULT_REDIS_KEY_PREFIX}, no replicas awaited, 1 s. */
    public static final RedisSettings DEFAULT =
        new RedisSettings(DEFAULT_REDIS_KEY_PREFIX, 0, RedisEventLog.DEFAULT_MIN_REPLICAS_TIMEOUT);

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException if {@code minReplicas} is negative or the timeout not
     *     positive
     */
    public RedisSettings {
      Objects.requireNonNull(keyPrefix, "keyPrefix");
      Objects.requireNonNull(minReplicasTimeout, "minReplicasTimeout");
      if (minReplicas < 0) {
        throw new IllegalArgumentException(
            "the number of replicas to wait for must not be negative: " + minReplicas);
      }
      if (minReplicasTimeout.isNegative() || minReplicasTimeout.isZero()) {
        throw new IllegalArgumentException(
            "the time to wait for replicas must be positive: " + minReplicasTimeout);
      }
    }

    /** These settings with another key prefix. */
    public RedisSettings withKeyPrefix(String prefix) {
      return new RedisSettings(prefix, minReplicas, minReplicasTimeout);
    }
  }

  /** The spec as a user writes it, with a Redis password masked: it ends up in logs. */
  @Override
  public String toString() {
    if (kind == Kind.MEMORY) {
      return "memory";
    }
    if (kind == Kind.SQLITE) {
      return "sqlite:" + location;
    }
    int scheme = location.indexOf("://") + 3;
    int at = location.lastIndexOf('@');
    // The user info ends before the path, query or (Sentinel) master name.
    int end = location.length();
    for (char c : new char[] {'/', '?', '#'}) {
      int index = location.indexOf(c, scheme);
      end = index >= 0 ? Math.min(end, index) : end;
    }
    if (at < scheme || at > end) {
      return location;
    }
    // redis://user:secret@host -> redis://user:***@host; redis://secret@host -> redis://***@host;
    // redis-cluster://:secret@h1:1,h2:2 -> redis-cluster://:***@h1:1,h2:2
    String userInfo = location.substring(scheme, at);
    int colon = userInfo.indexOf(':');
    String masked = colon >= 0 ? userInfo.substring(0, colon + 1) + "***" : "***";
    return location.substring(0, scheme) + masked + location.substring(at);
  }
}
