package dev.herald.redis.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;

/**
 * A plain Lettuce connection to a Redis, for a test to look at or change what the log wrote (keys,
 * streams, INFO) behind its back. Closes its client with it.
 */
public final class RawRedis implements AutoCloseable {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  /** Connects to {@code uri}. */
  public RawRedis(String uri) {
    this.client = RedisClient.create(uri);
    this.connection = client.connect();
  }

  /** Blocking commands. */
  public RedisCommands<String, String> sync() {
    return connection.sync();
  }

  /** Asynchronous commands, for what takes them (a script call). */
  public RedisAsyncCommands<String, String> async() {
    return connection.async();
  }

  /** A Pub/Sub connection of the same client, closed with it. */
  public StatefulRedisPubSubConnection<String, String> pubSub() {
    return client.connectPubSub();
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }
}
