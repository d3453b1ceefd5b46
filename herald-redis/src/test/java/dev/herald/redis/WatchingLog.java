package dev.herald.redis;

import dev.herald.server.EventLog;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A Redis log that watches every topic before it is first published to, as a node with a subscriber
 * on every topic would: so the plain {@link EventLog} contract (every event announced before its
 * append completes) can be checked on a log that announces watched topics only.
 */
final class WatchingLog implements EventLog {
  private final RedisEventLog delegate;
  private final Set<String> watched = new HashSet<>();

  WatchingLog(RedisEventLog delegate) {
    this.delegate = delegate;
  }

  @Override
  public void listener(Listener listener) {
    delegate.listener(listener);
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    // Under a lock: a concurrent append to the same new topic waits until it is watched (an
    // event appended before watch() returned need not be announced).
    synchronized (watched) {
      for (Publication publication : batch) {
        for (String topic : publication.topics()) {
          if (watched.add(topic)) {
            delegate.watch(topic);
          }
        }
      }
    }
    return delegate.append(batch);
  }

  @Override
  public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
    return delegate.readAfter(topics, afterId, limit);
  }

  @Override
  public long lastId() {
    return delegate.lastId();
  }

  @Override
  public long droppedThrough(Set<String> topics) {
    return delegate.droppedThrough(topics);
  }

  @Override
  public boolean isAvailable() {
    return delegate.isAvailable();
  }

  @Override
  public void close() {
    delegate.close();
  }
}
