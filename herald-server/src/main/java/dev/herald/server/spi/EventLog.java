package dev.herald.server.spi;

import dev.herald.server.Broker;
import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
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
 *       {@link StoreUnavailableException} and nothing was stored, or, only when the store's answer
 *       was lost and the log could not find out in time whether it stored the batch, with {@link
 *       PublishOutcomeUnknownException}.
 *   <li>Every appended event — including events appended by other nodes sharing the store — is
 *       announced once to the {@link Listener}, in strictly increasing id order, never
 *       concurrently, before the append's future completes, and only once it is readable: a {@link
 *       #readAfter} that starts after the announcement began returns it (the broker's exact
 *       hand-off from history to live depends on this). A log shared by several nodes may limit
 *       this to the topics it is told to {@link #watch}: it announces every event published to a
 *       watched topic, by any node, and need not announce the others (no local subscriber wants
 *       them); logs of one process (memory, SQLite) announce every event and ignore watching. While
 *       a shared log has lost its notification connection (its store is partly unreachable), it may
 *       complete an append before announcing it; it announces every such event, in order, once it
 *       has caught up, before any later one.
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

    /**
     * Events after the last one announced, with ids up to {@code through}, are gone from the store
     * before this log could announce them, so they never will be: a shared log that failed over to
     * a replica lacking the newest events (asynchronous replication), or whose retention dropped
     * events while it could not hear of them. Called on the announcing thread, between
     * announcements (every later one has a higher id); must not block. The broker tells each stream
     * in-band with a {@code reset}. Logs that never lose an event they acknowledged need not call
     * it.
     */
    default void onLost(long through) {}
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
   * Stores the publications like {@link #append(List)}, unless {@code key} was used within its
   * window: then it stores nothing and answers the ids of that first append ({@link
   * AppendReceipt#replayed}), or, if the key came with another fingerprint, completes exceptionally
   * with {@link IdempotencyConflictException}. The check, the append and remembering the key are
   * one atomic step (in one transaction for a durable log), so concurrent identical requests store
   * the events once. Keys are forgotten after their window, by the retention job or lazily.
   *
   * <p>The default supports no keys: it completes exceptionally with {@link
   * UnsupportedOperationException}.
   */
  default CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    return CompletableFuture.failedFuture(
        new UnsupportedOperationException(
            getClass().getSimpleName() + " does not support idempotency keys"));
  }

  /**
   * Stores device cursors (the id of the last event written to each device's stream), replacing
   * older values; called by the broker every few seconds for active streams and when a stream
   * closes. Cursors are forgotten once older than the retention age. Must not block long: a durable
   * log writes them through its writer.
   */
  CompletableFuture<Void> saveCursors(java.util.Map<CursorKey, Long> cursors);

  /**
   * The stored cursor of {@code key}, if one was saved within the retention age.
   *
   * @throws StoreUnavailableException if the store cannot be read
   */
  java.util.Optional<Long> cursor(CursorKey key);

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

  /**
   * Starts announcing events of {@code topic} to the listener, if this log announces only watched
   * topics (a log shared by several nodes does, so each node hears only what its subscribers want).
   * Calls are counted: the topic stays watched until {@link #unwatch} has been called as often. The
   * broker calls it once for each topic of a subscription, before registering the subscription for
   * live events and reading its history; once the future completes, every event appended later to
   * {@code topic}, by any node, will be announced. Must not block: a log that needs a round trip
   * completes the future when it is done (bounded by its command timeout); if the store is
   * unreachable it completes anyway and catches up when the store is back. A future that completes
   * exceptionally leaves nothing watched. The default completes at once: every event is announced
   * anyway.
   */
  default CompletableFuture<Void> watch(String topic) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Undoes one {@link #watch} of {@code topic}; when the count reaches zero the log may stop
   * announcing its events. The broker calls it once for each topic of a subscription when it
   * unregisters the closed subscription. Never blocks. The default does nothing.
   */
  default void unwatch(String topic) {}

  /** Whether the store is reachable and answers now (for readiness checks); cheap, never blocks. */
  default boolean isAvailable() {
    return true;
  }

  /** Flushes what is pending and releases the store. */
  @Override
  void close();
}
