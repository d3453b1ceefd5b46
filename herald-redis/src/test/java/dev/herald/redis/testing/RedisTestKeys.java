package dev.herald.redis.testing;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A test's share of the shared Redis ({@link TestRedis}): a key prefix of its own, and what the
 * test opened on it, closed after each test in reverse order before the prefix's keys are deleted.
 * Registered on an instance field ({@code @RegisterExtension final RedisTestKeys redis = new
 * RedisTestKeys();}), so each test gets its own.
 */
public final class RedisTestKeys implements AfterEachCallback {
  private final String prefix = TestRedis.newPrefix();
  private final List<AutoCloseable> closing = new ArrayList<>();

  /** The key prefix of this test. */
  public String prefix() {
    return prefix;
  }

  /** Closes {@code resource} after the test (the last added first); returns it. */
  public <T extends AutoCloseable> T closeAfter(T resource) {
    closing.add(resource);
    return resource;
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    try {
      for (int i = closing.size() - 1; i >= 0; i--) {
        closing.get(i).close();
      }
    } finally {
      TestRedis.deleteKeys(TestRedis.URI, prefix);
    }
  }
}
