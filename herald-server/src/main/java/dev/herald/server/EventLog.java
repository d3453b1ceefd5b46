package dev.herald.server;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where events are stored and numbered: the SPI behind the {@link Broker}. Implementations: the
 * in-memory log here, SQLite ({@code herald-sqlite}) and Redis ({@code herald-redis}).
 *
 * <p>Contract, checked for every implementation by the shared contract tests:
 *
 * <ul>
 *   <li>Ids come from one strictly increasing sequence per log (across all topics) and are never
 *       reused, not even after a restart that lost history.
 *   <li>{@link #append} stores a batch all-or-nothing, ids in batch order, and completes only when
 *       the events are durable as the log defines it; on failure it completes exceptionally with
 *       {@link StoreUnavailableException} and nothing was stored.
 *   <li>Every appended event — including events appended by other nodes sharing the store — is
 *       announced once to the {@link Listener}, in strictly increasing id order, never
 *       concurrently, before the append's future completes.
 *   <li>Reads are paged and return only retained events: an event past its retention age is never
 *       returned, even if not yet deleted.
 * </ul>
 */
public interface EventLog extends AutoCloseable {
  /** Receives every appended event, in id order. */
  @FunctionalInterface
  interface Listener {
    /** Called with one or more events in strictly increasing id order; must not block. */
    void onAppended(List<StoredEvent> events);
  }

  /** Sets the one listener; called once, by the broker, before the first append. */
  void listener(Listener listener);

  /**
   * Stores the publications, assigning each a new id in order.
   *
   * @return the stored events, in the order given, once durable
   */
  CompletableFuture<List<StoredEvent>> append(List<Publication> batch);

  /**
   * Reads retained events with an id above {@code afterId} published to any of {@code topics}, in
   * increasing id order, each event once however many of the topics it was published to.
   *
   * @param limit the most events to return; the caller pages by passing the last id read
   * @throws StoreUnavailableException if the store cannot be read
   */
  List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit);

  /** The newest id ever assigned (0 if none): a position above it is unknown, not expired. */
  long lastId();

  /**
   * The highest id that retention has dropped (deleted or aged out) from any of {@code topics}, 0
   * if none. A subscriber resuming after a position below it has missed events: it gets a {@code
   * reset}.
   */
  long droppedThrough(Set<String> topics);

  /** Whether the store is reachable now (for readiness checks); cheap. */
  default boolean isAvailable() {
    return true;
  }

  /** Flushes what is pending and releases the store. */
  @Override
  void close();
}
