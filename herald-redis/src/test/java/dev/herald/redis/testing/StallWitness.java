package dev.herald.redis.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A plain connection to a Redis, opened while it answers, that tells a test when a stall (a paused
 * server) has lasted long enough: a command sent on it once the stall began has timed out. Commands
 * sent before it with a timeout no longer than that have timed out too: their answers are lost.
 */
public final class StallWitness implements AutoCloseable {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  /** Connects to {@code uri}; Redis must answer now. */
  public StallWitness(String uri) {
    this.client = RedisClient.create(uri);
    this.connection = client.connect();
  }

  /**
   * Sends a command and returns once it timed out after {@code lasted}; fails if Redis answers it
   * (Redis is not stalled).
   */
  public void awaitStalledFor(Duration lasted) throws Exception {
    connection.setTimeout(lasted);
    try {
      String answer =
          connection.async().ping().get(lasted.toMillis() + 10_000, TimeUnit.MILLISECONDS);
      throw new AssertionError("Redis answered while it should be stalled: " + answer);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(RedisCommandTimeoutException.class);
    }
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }
}
