package dev.herald.server;

import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * An event log that forwards every call: tests (here and in other modules) override one method to
 * observe or break it.
 */
public class ForwardingEventLog implements EventLog {
  private final EventLog delegate;

  /** A log that forwards every call to {@code delegate}. */
  public ForwardingEventLog(EventLog delegate) {
    this.delegate = delegate;
  }

  @Override
  public void listener(Listener listener) {
    delegate.listener(listener);
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    return delegate.append(batch);
  }

  @Override
  public CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    return delegate.append(batch, key);
  }

  @Override
  public CompletableFuture<Void> saveCursors(Map<CursorKey, Long> cursors) {
    return delegate.saveCursors(cursors);
  }

  @Override
  public Optional<Long> cursor(CursorKey key) {
    return delegate.cursor(key);
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
  public CompletableFuture<Void> watch(String topic) {
    return delegate.watch(topic);
  }

  @Override
  public void unwatch(String topic) {
    delegate.unwatch(topic);
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
