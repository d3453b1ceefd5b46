package dev.herald.server;

import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Devices' places and cursors: the one open stream of each device and topic set (a newer one
 * replaces it, here or, through the {@link Presence}, on another node), and the id of the last
 * event written to it, saved in the log every flush interval and when the stream closes, so the
 * device can resume from it on any node.
 */
final class Devices {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());
  private static final long FLUSH_SOON_MILLIS = 50;

  private final EventLog log;
  private final Presence presence;
  private final boolean shared;
  private final ScheduledExecutorService scheduler;
  private final AtomicLong streamIds = new AtomicLong();
  // The open stream of each device and topic set.
  private final ConcurrentHashMap<CursorKey, BrokerSubscription> open = new ConcurrentHashMap<>();
  // Final cursors of closed device streams, not yet handed to the log.
  private final ConcurrentHashMap<CursorKey, Long> closedCursors = new ConcurrentHashMap<>();
  private final ReentrantLock flushLock = new ReentrantLock();
  private final AtomicBoolean flushScheduled = new AtomicBoolean();

  /**
   * Devices saving cursors in {@code log} every {@code flushInterval} on {@code scheduler}; {@code
   * presence} shares device streams with other nodes ({@code shared}), or is a no-op.
   */
  Devices(
      EventLog log,
      Presence presence,
      boolean shared,
      ScheduledExecutorService scheduler,
      Duration flushInterval) {
    this.log = log;
    this.presence = presence;
    this.shared = shared;
    this.scheduler = scheduler;
    long flushNanos = flushInterval.toNanos();
    scheduler.scheduleWithFixedDelay(
        this::flushQuietly, flushNanos, flushNanos, TimeUnit.NANOSECONDS);
  }

  /** Names a new device stream among the broker's streams of its key. */
  String nextStreamId() {
    return Long.toString(streamIds.incrementAndGet(), 36);
  }

  /**
   * Makes an opened device stream its device's one stream; under the stream's lock, while it is
   * open (so its {@link #release} comes after this). Returns the stream it replaces on this node.
   */
  Optional<BrokerSubscription> take(BrokerSubscription subscription) {
    CursorKey key = subscription.device();
    BrokerSubscription older = open.put(key, subscription);
    // The new stream's cursor rules now; a closed stream's unsaved one must not overwrite it.
    closedCursors.remove(key);
    // Before the older one closes, so other nodes never see the device without a stream.
    presence.opened(stream(subscription));
    return older == subscription ? Optional.empty() : Optional.ofNullable(older);
  }

  /** A device stream closed: keeps its cursor for the next flush. */
  void release(BrokerSubscription subscription) {
    CursorKey key = subscription.device();
    if (key == null || !open.remove(key, subscription)) {
      return;
    }
    long cursor = subscription.deviceCursor();
    if (cursor > 0) {
      closedCursors.put(key, cursor);
    }
    presence.closed(stream(subscription));
    if (shared) {
      // The device may be back on another node any moment: hand its cursor over soon.
      flushSoon();
    }
  }

  /**
   * Where a device that comes back without a {@code Last-Event-ID} resumes: after the last event
   * written to its stream of these topics, the open stream's, or the saved cursor.
   */
  Optional<Position> position(CursorKey key) {
    BrokerSubscription stream = open.get(key);
    long cursor = stream != null ? stream.deviceCursor() : 0;
    if (cursor == 0) {
      Long closed = closedCursors.get(key);
      cursor = closed != null ? closed : log.cursor(key).orElse(0L);
    }
    return cursor > 0 ? Optional.of(Position.after(cursor)) : Optional.empty();
  }

  /** This node's open device streams, for the presence. */
  List<Presence.Stream> streams() {
    return open.values().stream().filter(BrokerSubscription::isOpen).map(Devices::stream).toList();
  }

  /** Closes this node's stream {@code streamId} of {@code key}, if open: another took its place. */
  void replaced(CursorKey key, String streamId) {
    BrokerSubscription current = open.get(key);
    if (current != null && current.streamId().equals(streamId)) {
      current.close(CloseReason.REPLACED);
    }
  }

  /** Hands the changed cursors to the log now; completes when it has stored them. */
  CompletableFuture<Void> flush() {
    flushLock.lock();
    try {
      Map<CursorKey, Long> changed = new HashMap<>(closedCursors);
      Map<BrokerSubscription, Long> active = new HashMap<>();
      for (BrokerSubscription subscription : open.values()) {
        long cursor = subscription.deviceCursor();
        if (cursor > 0 && cursor != subscription.savedCursor) {
          changed.put(subscription.device(), cursor);
          active.put(subscription, cursor);
        }
      }
      if (changed.isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
      active.forEach((subscription, cursor) -> subscription.savedCursor = cursor);
      changed.forEach(closedCursors::remove);
      return log.saveCursors(changed)
          .whenComplete(
              (done, failure) -> {
                if (failure != null) {
                  // Try again at the next flush: put back what no newer value replaced.
                  changed.forEach(
                      (key, cursor) -> {
                        if (!open.containsKey(key)) {
                          closedCursors.putIfAbsent(key, cursor);
                        }
                      });
                  active.keySet().forEach(subscription -> subscription.savedCursor = 0);
                }
              });
    } finally {
      flushLock.unlock();
    }
  }

  /** Flushes within {@link #FLUSH_SOON_MILLIS}, once for every close meanwhile. */
  private void flushSoon() {
    if (flushScheduled.compareAndSet(false, true)) {
      try {
        ScheduledFuture<?> unused =
            scheduler.schedule(
                () -> {
                  flushScheduled.set(false);
                  flushQuietly();
                },
                FLUSH_SOON_MILLIS,
                TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        flushScheduled.set(false); // closing: the broker's close flushes
      }
    }
  }

  private void flushQuietly() {
    try {
      flush();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "could not save device cursors", e);
    }
  }

  private static Presence.Stream stream(BrokerSubscription subscription) {
    return new Presence.Stream(
        subscription.device(), subscription.streamId(), subscription.since());
  }
}
