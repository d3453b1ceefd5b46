package dev.herald.spring.boot.autoconfigure;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.convert.DataSizeUnit;
import org.springframework.util.unit.DataSize;
import org.springframework.util.unit.DataUnit;

/**
 * The {@code herald.*} properties: where the broker stores events, how long it keeps them, and the
 * endpoints and bounds of its streams. The defaults are the hub's ({@code herald serve}), except
 * the store, which is in memory unless you name one.
 *
 * <pre>
 * herald.store=sqlite:./herald-data/events.db
 * herald.retention.count=1000
 * herald.retention.age=24h
 * herald.heartbeat=15s
 * herald.max-buffer-bytes=1MB
 * herald.mvc.path=/events
 * </pre>
 */
@ConfigurationProperties("herald")
public class HeraldProperties {
  /**
   * Where events are stored, in the hub's --store syntax: "memory" (nothing survives a restart),
   * "sqlite:<path>" (one file, durable on one machine), "redis://[:password@]host:port[/db]"
   * ("rediss://" for TLS), a Redis Cluster's seed nodes "redis-cluster://host:port[,host:port...]",
   * or the Sentinels of a master "redis-sentinel://host:port[,host:port...][/db]#<master>". With
   * Redis, several application instances share one history, device presence and reach.
   */
  private String store = "memory";

  /**
   * Whether SQLite syncs every commit to disk (safe against power loss); without it, commits
   * survive a process crash. SQLite only.
   */
  private boolean fsync = false;

  /**
   * Prefix of every Redis key. Instances of one application share it; applications sharing one
   * Redis need different ones. Redis only.
   */
  private String redisKeyPrefix = "herald:";

  /**
   * Replicas that must confirm an event (Redis WAIT) before a publish completes; 0 waits for none.
   * With asynchronous replication a failover can lose what the primary acknowledged; with 1 or more
   * it loses nothing acknowledged, and a publish the replicas did not confirm in time fails with
   * ReplicationUnconfirmedException (stored on the primary: retry with the same idempotency key).
   * Redis only.
   */
  private int redisMinReplicas = 0;

  /** How long a publish waits for redis-min-replicas replicas to confirm it. Redis only. */
  private Duration redisMinReplicasTimeout = Duration.ofSeconds(1);

  /**
   * How long a stream may be idle before it gets a heartbeat comment (":"), which keeps proxies
   * from closing it and finds clients that went away. 0 turns heartbeats off.
   */
  private Duration heartbeat = Duration.ofSeconds(15);

  /**
   * Bytes of events that may wait for one slow client before its stream is closed as a slow
   * consumer; it reconnects with Last-Event-ID and replays what it missed from the store. Plain
   * numbers are bytes; KB and MB are multiples of 1024.
   */
  @DataSizeUnit(DataUnit.BYTES)
  private DataSize maxBufferBytes = DataSize.ofMegabytes(1);

  /** How much history each topic keeps, for clients that resume. */
  private final Retention retention = new Retention();

  /** The ready-made Spring MVC endpoint. */
  private final Mvc mvc = new Mvc();

  /** The ready-made WebFlux endpoint. */
  private final Webflux webflux = new Webflux();

  public String getStore() {
    return store;
  }

  public void setStore(String store) {
    this.store = store;
  }

  public boolean isFsync() {
    return fsync;
  }

  public void setFsync(boolean fsync) {
    this.fsync = fsync;
  }

  public String getRedisKeyPrefix() {
    return redisKeyPrefix;
  }

  public void setRedisKeyPrefix(String redisKeyPrefix) {
    this.redisKeyPrefix = redisKeyPrefix;
  }

  public int getRedisMinReplicas() {
    return redisMinReplicas;
  }

  public void setRedisMinReplicas(int redisMinReplicas) {
    this.redisMinReplicas = redisMinReplicas;
  }

  public Duration getRedisMinReplicasTimeout() {
    return redisMinReplicasTimeout;
  }

  public void setRedisMinReplicasTimeout(Duration redisMinReplicasTimeout) {
    this.redisMinReplicasTimeout = redisMinReplicasTimeout;
  }

  public Duration getHeartbeat() {
    return heartbeat;
  }

  public void setHeartbeat(Duration heartbeat) {
    this.heartbeat = heartbeat;
  }

  public DataSize getMaxBufferBytes() {
    return maxBufferBytes;
  }

  public void setMaxBufferBytes(DataSize maxBufferBytes) {
    this.maxBufferBytes = maxBufferBytes;
  }

  public Retention getRetention() {
    return retention;
  }

  public Mvc getMvc() {
    return mvc;
  }

  public Webflux getWebflux() {
    return webflux;
  }

  /** {@code herald.retention.*}. */
  public static class Retention {
    /** Events kept per topic; older ones are dropped first. */
    private int count = 1000;

    /** Age after which an event is dropped: never replayed, deleted within a minute. */
    private Duration age = Duration.ofHours(24);

    public int getCount() {
      return count;
    }

    public void setCount(int count) {
      this.count = count;
    }

    public Duration getAge() {
      return age;
    }

    public void setAge(Duration age) {
      this.age = age;
    }
  }

  /** {@code herald.mvc.*}. */
  public static class Mvc {
    /**
     * Path of a ready-made Spring MVC endpoint that streams the topics named by its "topic" query
     * parameters (GET /events?topic=a&topic=b). Off unless set: it lets any client that reaches it
     * choose its topics, so put it behind your own security, or stream from a controller that
     * returns HeraldStream instead.
     */
    private String path;

    public String getPath() {
      return path;
    }

    public void setPath(String path) {
      this.path = path;
    }
  }

  /** {@code herald.webflux.*}. */
  public static class Webflux {
    /**
     * Path of a ready-made WebFlux endpoint that streams the topics named by its "topic" query
     * parameters. Off unless set, for the same reason as herald.mvc.path; controllers return
     * HeraldFlux.stream(exchange, topics) instead.
     */
    private String path;

    public String getPath() {
      return path;
    }

    public void setPath(String path) {
      this.path = path;
    }
  }
}
