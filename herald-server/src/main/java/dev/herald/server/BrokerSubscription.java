package dev.herald.server;

import dev.herald.core.Event;
import dev.herald.core.SseEncoder;
import dev.herald.core.internal.JsonStrings;
import dev.herald.server.spi.CursorKey;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.Set;

/**
 * One subscription of a {@link Broker}: the state machine behind the exact replay-to-live hand-off.
 *
 * <p>It starts in {@code REPLAY}. While replaying, live events from the log's listener are buffered
 * and history is written page by page from a replay thread, up to where the buffer starts; then the
 * buffer is drained, skipping ids already written, and the subscription turns {@code LIVE}, where
 * the listener's thread writes each event directly. A live-only subscription has no history: it
 * buffers only until the broker has read where it starts ({@link #startLive}), and skips every
 * event up to there.
 *
 * <p>Nothing is ever skipped silently. The buffer is bounded ({@link
 * Broker.Builder#maxBufferedEvents}); when it fills, it is dropped and the events it lost are read
 * from the log instead, after which it buffers anew. Every page of history is checked against
 * retention: if the log dropped an event after the stream's position before the stream could write
 * it (a long replay to a slow reader next to small retention), the stream says so in-band with a
 * {@code reset} ({@code "reason": "expired"}, {@code "lastEventId"}: the last id it had delivered)
 * and goes on from the oldest retained event. A replay that cannot read the store (an outage) waits
 * and tries again while the stream stays open.
 *
 * <p>Every call to the sink happens under this object's monitor, so the sink is never called
 * concurrently, and {@code closed} is called exactly once, by whichever thread ends the
 * subscription first. A monitor rather than a {@code ReentrantLock}: one per stream, it costs no
 * objects (a lock and its synchronizer are about 48 bytes per idle stream), and taking it writes no
 * reference into the heap, where a lock records its owner thread on every acquisition; under G1
 * each such write into an old object leaves a card for the refinement threads to scan, once per
 * stream per event.
 */
final class BrokerSubscription implements Subscription {
  private static final System.Logger LOG = System.getLogger(Broker.class.getName());

  /** What became of an event offered to the subscription. */
  enum Offered {
    /** Not for it: already offered through another topic, before its position, or it is closed. */
    SKIPPED,
    /** Held back (or left to read from the log) while it replays. */
    BUFFERED,
    /** Handed to its sink. */
    DELIVERED
  }

  private enum Phase {
    REPLAY,
    LIVE,
    CLOSED
  }

  /** The heartbeat comment; shared by every sink, like event frames. */
  private static final byte[] HEARTBEAT = {':', '\n'};

  /** Live events drained per lock hold at hand-off, so publishers never wait long on it. */
  private static final int DRAIN_CHUNK = 64;

  private final SubscriptionHost host;
  private final Set<String> topics;
  private final Position position;
  private final Sink sink;
  private final CursorKey device;
  private final long cursorBase;
  private final java.time.Instant since;
  // Names this device stream in the broker's Presence; empty for other subscriptions.
  private final String streamId;
  private final java.util.concurrent.atomic.AtomicBoolean opened =
      new java.util.concurrent.atomic.AtomicBoolean();
  // The cursor last handed to the log; only the broker's scheduler thread touches it.
  volatile long savedCursor;

  // Guarded by this; phase is also read without it as a fast path.
  private volatile Phase phase;
  private ArrayDeque<StoredEvent> buffer;
  // The buffer filled up and was dropped: what was offered since is read from the log instead.
  private boolean overflowed;
  private long firstOffered;
  private long lastOffered;
  private long lastWritten;
  // A live-only subscription skips events up to here (see startLive); 0 for the others.
  private long liveAfter;
  private boolean sentSinceTick;
  private int idleTicks;
  private final int heartbeatSlot;

  // Set when the buffer restarts after an overflow (see drainChunk); guarded by this.
  private long rearmedAfter;
  // The log lost events up to here while this replayed: a reset is due at the hand-off (see
  // lost); 0 if none. Guarded by this.
  private long lostThrough;
  // The replay until the subscription is live; then null (replay threads only read it).
  private volatile Replay replay;

  /**
   * A subscription of {@code host}; of a device if {@code device} is present, whose stream is named
   * {@code streamId} and whose cursor starts at {@code cursorBase}: what the device has without
   * this stream writing anything.
   */
  BrokerSubscription(
      SubscriptionHost host,
      Set<String> topics,
      Position position,
      Sink sink,
      java.util.Optional<CursorKey> device,
      String streamId,
      long cursorBase,
      int heartbeatSlot) {
    this.device = device.orElse(null);
    this.cursorBase = cursorBase;
    // Milliseconds, like event timestamps: the same on every node that lists it.
    this.since = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    this.streamId = streamId;
    this.host = host;
    this.topics = topics;
    this.position = position;
    this.sink = sink;
    this.heartbeatSlot = heartbeatSlot;
    // Live-only too: until startLive, what is offered may be older than where it starts.
    phase = Phase.REPLAY;
    buffer = new ArrayDeque<>();
    replay = new Replay(this, host, position, sink);
  }

  @Override
  public Set<String> topics() {
    return topics;
  }

  /**
   * The device and topic set, for a device's stream; null otherwise (internal: no Optional per
   * call).
   */
  CursorKey device() {
    return device;
  }

  /** When the subscription opened. */
  java.time.Instant since() {
    return since;
  }

  /** Names this device stream among the broker's streams of its key. */
  String streamId() {
    return streamId;
  }

  /** Whether {@link #opened} was called. */
  boolean wasOpened() {
    return opened.get();
  }

  @Override
  public void opened() {
    if (device == null || !opened.compareAndSet(false, true)) {
      return;
    }
    java.util.Optional<BrokerSubscription> older;
    synchronized (this) {
      if (phase == Phase.CLOSED) {
        return;
      }
      // Under the lock: an unregister (which runs under it) comes after, and undoes this.
      older = host.takeDevicePlace(this);
    }
    // Outside it: two streams of one device opening at once must not wait on each other's lock.
    older.ifPresent(stream -> stream.close(CloseReason.REPLACED));
  }

  /**
   * The id of the last event the device has from this stream: the last one handed to the sink, or
   * where the stream started; 0 if neither is known.
   */
  long deviceCursor() {
    synchronized (this) {
      return Math.max(cursorBase, lastWritten);
    }
  }

  @Override
  public boolean isOpen() {
    return phase != Phase.CLOSED;
  }

  @Override
  public void close() {
    close(CloseReason.CLIENT_CLOSED);
  }

  @Override
  public void close(CloseReason reason) {
    Objects.requireNonNull(reason, "reason");
    synchronized (this) {
      if (phase != Phase.CLOSED) {
        closeLocked(reason);
      }
    }
  }

  /**
   * Ends the subscription without telling the sink, if nobody ended it yet: for a subscribe that
   * raced with the broker's shutdown and reports it by throwing instead.
   */
  boolean abandon() {
    synchronized (this) {
      if (phase == Phase.CLOSED) {
        return false;
      }
      phase = Phase.CLOSED;
      buffer = null;
      replay = null;
      host.unregister(this);
      host.listener().subscriptionClosed(CloseReason.SHUTDOWN);
      return true;
    }
  }

  /**
   * Starts a live-only subscription, once registered for all its topics: {@code after} is the
   * newest id read since, so every later event is offered to it, and it gets exactly those (a
   * contiguous run in id order), never one announced late from before it started. Returns whether
   * events buffered meanwhile remain to be written, by {@link #replayStep} on a broker thread
   * (never on the subscribing thread).
   */
  boolean startLive(long after) {
    synchronized (this) {
      if (phase != Phase.REPLAY) {
        return false;
      }
      liveAfter = after;
      if (overflowed) {
        return true;
      }
      // The buffer is in id order.
      while (!buffer.isEmpty() && buffer.peek().id() <= after) {
        buffer.poll();
      }
      if (lostThrough <= after) {
        lostThrough = 0; // it starts after what the log lost
      }
      if (!buffer.isEmpty() || lostThrough > 0) {
        return true;
      }
      phase = Phase.LIVE;
      buffer = null;
      replay = null;
      return false;
    }
  }

  /** Called by the log's listener, in id order, once per topic of the event this covers. */
  Offered offer(StoredEvent event) {
    if (phase == Phase.CLOSED) {
      return Offered.SKIPPED;
    }
    synchronized (this) {
      long id = event.id();
      if (phase == Phase.CLOSED || id <= lastOffered) {
        // Already offered through another of its topics.
        return Offered.SKIPPED;
      }
      lastOffered = id;
      if (firstOffered == 0) {
        firstOffered = id;
      }
      if (phase == Phase.REPLAY) {
        if (!overflowed) {
          if (buffer.size() < host.maxBufferedEvents()) {
            buffer.add(event);
          } else {
            // Read from the log once history gets here (see handOff), rather than grow or cut.
            overflowed = true;
            buffer.clear();
          }
        }
        return Offered.BUFFERED;
      }
      if (id <= lastWritten || id <= liveAfter) {
        return Offered.SKIPPED;
      }
      return write(event) ? Offered.DELIVERED : Offered.SKIPPED;
    }
  }

  /**
   * The log lost events up to {@code through} before it could announce them ({@link
   * dev.herald.server.spi.EventLog.Listener#onLost}), so this stream may never get some it was due:
   * a live stream hears a {@code reset} ({@code "reason": "expired"}, {@code "lastEventId"}: the
   * last event it delivered) at once and goes on live; a replaying one at its hand-off to live,
   * unless it starts after them or a reset of its replay told it already.
   */
  void lost(long through) {
    if (phase == Phase.CLOSED) {
      return;
    }
    synchronized (this) {
      if (phase == Phase.CLOSED || lastOffered >= through) {
        return;
      }
      if (phase == Phase.REPLAY) {
        lostThrough = Math.max(lostThrough, through);
        return;
      }
      if (through > liveAfter) {
        sendFrame(lostReset());
      }
    }
  }

  /** The reset that tells of lost events, right after the last one delivered; under lock. */
  private byte[] lostReset() {
    sentSinceTick = true;
    return resetFrame(
        lastWritten > 0 ? Long.toString(lastWritten) : position.lastEventId(), "expired");
  }

  private static byte[] resetFrame(String lastEventId, String reason) {
    String data =
        "{\"lastEventId\":" + JsonStrings.quote(lastEventId) + ",\"reason\":\"" + reason + "\"}";
    return SseEncoder.encode(Event.builder().type("reset").data(data).build());
  }

  /** Sends a heartbeat when nothing was written for two ticks. */
  int heartbeatSlot() {
    return heartbeatSlot;
  }

  void heartbeatTick() {
    if (phase == Phase.CLOSED) {
      return;
    }
    synchronized (this) {
      if (phase == Phase.CLOSED) {
        return;
      }
      if (sentSinceTick) {
        sentSinceTick = false;
        idleTicks = 0;
        return;
      }
      if (++idleTicks >= 2) {
        idleTicks = 0;
        sendFrame(HEARTBEAT);
      }
    }
  }

  /** One step of the replay, on a replay thread (see {@link Replay}). */
  void replayStep() {
    Replay current = replay;
    if (current != null && phase != Phase.CLOSED) {
      current.step();
    }
  }

  // What the replay shares with the subscription, each under its lock.

  /** Writes a reset (no id); false if the subscription ended. */
  boolean sendReset(String lastEventId, String reason) {
    byte[] frame = resetFrame(lastEventId, reason);
    synchronized (this) {
      if (phase == Phase.CLOSED) {
        return false;
      }
      // It tells the stream that anything after lastEventId may be missing: lost events too.
      lostThrough = 0;
      sentSinceTick = true;
      return sendFrame(frame);
    }
  }

  /** Writes an event of history unless written already; false if the subscription ended. */
  boolean writeHistory(StoredEvent event) {
    synchronized (this) {
      if (phase == Phase.CLOSED) {
        return false;
      }
      return event.id() <= lastWritten || write(event);
    }
  }

  /** The id of the last event written. */
  synchronized long lastWritten() {
    return lastWritten;
  }

  /**
   * Where history resumes: everything through {@code id} counts as written (the client has it, or
   * {@code 0}: all retained history follows a reset).
   */
  synchronized void writtenThrough(long id) {
    lastWritten = id == 0 ? 0 : Math.max(lastWritten, id);
  }

  /**
   * Where a live-only subscription's events start: after the newest id when it registered, or, if
   * the log could not tell then, before the first event offered to it.
   */
  synchronized long liveFloor() {
    if (liveAfter > 0 || firstOffered == 0) {
      return liveAfter;
    }
    return firstOffered - 1;
  }

  /** What one chunk of the hand-off came to. */
  enum HandOff {
    /** The buffer is drained: the subscription is live. */
    LIVE,
    /** More is buffered. */
    MORE,
    /** The buffer had overflowed: it buffers anew after {@link #rearmedAfter}. */
    REARMED,
    /** The subscription ended. */
    CLOSED
  }

  /**
   * Drains up to {@value #DRAIN_CHUNK} buffered events, skipping those history already wrote, in
   * one lock hold, so publishers never wait long on it; turns the subscription live once the buffer
   * is empty. If it overflowed, it starts buffering anew after the last event offered ({@link
   * #rearmedAfter}), which the replay then reads from the log.
   */
  HandOff drainChunk() {
    int delivered = 0;
    try {
      synchronized (this) {
        if (phase == Phase.CLOSED) {
          return HandOff.CLOSED;
        }
        if (overflowed) {
          overflowed = false;
          rearmedAfter = lastOffered;
          return HandOff.REARMED;
        }
        if (lostThrough > 0) {
          // History is written through where the buffer starts; the lost events were due between.
          boolean due = lostThrough > lastWritten && lostThrough > liveAfter;
          lostThrough = 0;
          if (due && !sendFrame(lostReset())) {
            return HandOff.CLOSED;
          }
        }
        while (!buffer.isEmpty() && delivered < DRAIN_CHUNK) {
          StoredEvent event = buffer.poll();
          if (event.id() > lastWritten && event.id() > liveAfter) {
            if (!write(event)) {
              return HandOff.CLOSED;
            }
            delivered++;
          }
        }
        if (!buffer.isEmpty()) {
          return HandOff.MORE;
        }
        phase = Phase.LIVE;
        buffer = null;
        // Live: the replay's state is garbage now, not part of every idle stream.
        replay = null;
        return HandOff.LIVE;
      }
    } finally {
      if (delivered > 0) {
        host.listener().delivered(delivered);
      }
    }
  }

  /** After a {@link HandOff#REARMED} chunk: the buffer holds every event after this id. */
  synchronized long rearmedAfter() {
    return rearmedAfter;
  }

  /** Closes the subscription for what its replay met. */
  void replayFailed(CloseReason reason) {
    close(reason);
  }

  /** Writes an event's shared frame; under lock. False if the subscription ended. */
  private boolean write(StoredEvent event) {
    lastWritten = event.id();
    sentSinceTick = true;
    return sendFrame(event.frame());
  }

  /** Sends a frame; under lock. Closes the subscription if the sink refuses or fails. */
  private boolean sendFrame(byte[] frame) {
    boolean accepted;
    try {
      accepted = sink.send(frame);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "sink failed; closing the subscription", e);
      if (phase != Phase.CLOSED) {
        closeLocked(CloseReason.WRITE_FAILED);
      }
      return false;
    }
    if (phase == Phase.CLOSED) {
      // The sink closed it from inside send.
      return false;
    }
    if (!accepted) {
      closeLocked(CloseReason.SLOW_CONSUMER);
      return false;
    }
    return true;
  }

  private void closeLocked(CloseReason reason) {
    phase = Phase.CLOSED;
    buffer = null;
    replay = null;
    host.unregister(this);
    try {
      sink.closed(reason);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "sink failed while closing", e);
    }
    try {
      host.listener().subscriptionClosed(reason);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "broker listener failed", e);
    }
  }

  @Override
  public String toString() {
    return "Subscription{" + topics + " from " + position + "}";
  }
}
