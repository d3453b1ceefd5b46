package dev.herald.redis.testing;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.UUID;

/** The Redis the tests share (127.0.0.1:6379), and a unique key prefix per test, deleted after. */
public final class TestRedis {
  /** The URI of the shared Redis. */
  public static final String URI = "redis://127.0.0.1:6379";

  private TestRedis() {}

  /** A key prefix nobody else uses. */
  public static String newPrefix() {
    return "herald-test:" + UUID.randomUUID() + ":";
  }

  /**
   * Deletes every key of a prefix (the log wraps its prefix in a hash tag); returns how many there
   * were.
   */
  public static int deleteKeys(String uri, String prefix) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      ScanArgs match = ScanArgs.Builder.matches("{" + prefix + "}*").limit(1000);
      int deleted = 0;
      ScanCursor cursor = ScanCursor.INITIAL;
      // Bounded: SCAN finishes in at most a few rounds per thousand keys.
      for (int round = 0; round < 100_000; round++) {
        KeyScanCursor<String> page = redis.scan(cursor, match);
        if (!page.getKeys().isEmpty()) {
          deleted += redis.del(page.getKeys().toArray(new String[0])).intValue();
        }
        if (page.isFinished()) {
          break;
        }
        cursor = page;
      }
      return deleted;
    } finally {
      client.shutdown();
    }
  }
}
