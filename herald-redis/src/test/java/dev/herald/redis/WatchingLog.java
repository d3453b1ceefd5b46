package dev.herald.redis;

import dev.herald.server.ForwardingEventLog;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.EventLog;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A Redis log that watches every topic before it is first published to, as a node with a subscriber
 * on every topic would: so the plain {@link EventLog} contract (every event announced before its
 * append completes) can be checked on a log that announces watched topics only.
 */
final class WatchingLog extends ForwardingEventLog {
  private final Set<String> watched = new HashSet<>();

  WatchingLog(RedisEventLog delegate) {
    super(delegate);
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    watchTopics(batch);
    return super.append(batch);
  }

  @Override
  public CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    watchTopics(batch);
    return super.append(batch, key);
  }

  private void watchTopics(List<Publication> batch) {
    // Under a lock: a concurrent append to the same new topic waits until it is watched (an
    // event appended before watch() returned need not be announced).
    synchronized (watched) {
      for (Publication publication : batch) {
        for (String topic : publication.topics()) {
          if (watched.add(topic)) {
            watch(topic).join();
          }
        }
      }
    }
  }
}
