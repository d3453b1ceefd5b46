package dev.herald.server;

import dev.herald.core.internal.Checks;
import dev.herald.server.MemoryStorage.Node;
import dev.herald.server.MemoryStorage.TopicLog;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An {@link EventLog} in the heap: fast, and gone when the process ends.
 *
 * <p>Ids start at the boot time in microseconds (and never fall behind the clock), so an id handed
 * out by an earlier process is always below this log's first id: {@link #droppedThrough} reports
 * everything below the first id as dropped, and a client resuming from such an id gets a {@code
 * reset} instead of a silent gap.
 *
 * <p>Besides the per-topic {@link Retention}, the log keeps an estimate of its heap use under a
 * global byte cap ({@link Builder#maxBytes}, default {@value #DEFAULT_MAX_BYTES} bytes): past it,
 * the oldest events are evicted first, and count as dropped. The cap also covers what the log
 * remembers about topics whose history is empty (their newest dropped id); when even that is over
 * the cap, the oldest such topics are forgotten and fold into one log-wide watermark, which can
 * only make {@code reset}s more frequent, never hide a gap. A million member topics therefore
 * cannot exhaust the heap. Idempotency keys and device cursors count against the same cap: when it
 * is reached, whatever is oldest of events, keys and cursors goes first (a forgotten key lets a
 * retry publish again, a forgotten cursor lets a device resume live), and the log warns once. Size
 * the cap for the keys and cursors you expect: each costs about 200 bytes plus its strings.
 *
 * <p>Events past their retention age are removed on the next operation on the log.
 *
 * <pre>{@code
 * EventLog log = MemoryEventLog.builder()
 *     .retention(new Retention(1000, Duration.ofHours(24)))
 *     .maxBytes(256L << 20)
 *     .build();
 * }</pre>
 */
public final class MemoryEventLog implements EventLog {
  private static final System.Logger LOG = System.getLogger(MemoryEventLog.class.getName());

  /** The default global byte cap: 64 MiB. */
  public static final long DEFAULT_MAX_BYTES = 64L << 20;

  /** Estimated heap bytes of one stored event besides its strings and frame. */
  private static final long EVENT_OVERHEAD = 200;

  /** Estimated heap bytes of one topic's bookkeeping besides its name. */
  private static final long TOPIC_OVERHEAD = 160;

  /** Estimated heap bytes of one remembered idempotency key or cursor besides its strings. */
  private static final long ENTRY_OVERHEAD = 200;

  private final ReentrantLock lock = new ReentrantLock();
  private final Retention retention;
  private final long maxBytes;
  private final Clock clock;

  // Everything below is guarded by lock.
  private final Map<String, TopicLog> topics = new HashMap<>();
  private Node oldest;
  private Node newest;
  private TopicLog oldestEmpty;
  private TopicLog newestEmpty;
  private long bytes;
  private long nextId;
  private Instant lastTimestamp;
  private long forgottenThrough;
  private Listener listener;
  private boolean closed;
  private boolean warnedOverCap;
  // Idempotency keys in the order first used: with one window for all, also the order they expire.
  private final Map<ScopedKey, RememberedKey> keys = new java.util.LinkedHashMap<>();
  // Device cursors in the order saved, so the oldest expire first.
  private final Map<CursorKey, SavedCursor> cursors = new java.util.LinkedHashMap<>();
  private volatile long lastId;

  private MemoryEventLog(Builder builder) {
    this.retention = builder.retention;
    this.maxBytes = builder.maxBytes;
    this.clock = builder.clock;
    this.nextId = Math.max(1, micros(clock.instant()));
    // Every id below the first one belongs to an earlier process (or to none): treat it as dropped.
    this.forgottenThrough = nextId - 1;
  }

  /** Returns a builder: {@link Retention#DEFAULT}, a 64 MiB cap, the system UTC clock. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void listener(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    lock.lock();
    try {
      if (this.listener != null) {
        throw new IllegalStateException("the log already has a listener");
      }
      this.listener = listener;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    Objects.requireNonNull(batch, "batch");
    lock.lock();
    try {
      if (closed) {
        return CompletableFuture.failedFuture(
            new StoreUnavailableException("the memory event log is closed"));
      }
      if (batch.isEmpty()) {
        return CompletableFuture.completedFuture(List.of());
      }
      Instant now = clock.instant();
      // Timestamps never go backwards, so retention by age can always drop from the oldest end.
      if (lastTimestamp != null && now.isBefore(lastTimestamp)) {
        now = lastTimestamp;
      }
      lastTimestamp = now;
      expire(now);
      long id = Math.max(nextId, micros(now));
      List<StoredEvent> stored = new ArrayList<>(batch.size());
      for (Publication publication : batch) {
        StoredEvent event =
            StoredEvent.of(id++, sharedTopics(publication.topics()), publication.event(), now);
        stored.add(event);
        insert(event);
      }
      nextId = id;
      lastId = id - 1;
      evictOverCap();
      List<StoredEvent> result = Collections.unmodifiableList(stored);
      if (listener != null) {
        // Under the lock: announcements are in id order and never concurrent, and each event is
        // readable before it is announced.
        try {
          listener.onAppended(result);
        } catch (RuntimeException e) {
          // Stored is stored: the append succeeded whatever the listener did.
          LOG.log(System.Logger.Level.WARNING, "event log listener failed", e);
        }
      }
      return CompletableFuture.completedFuture(result);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(key, "key");
    lock.lock();
    try {
      Instant now = clock.instant();
      forgetExpiredKeys(now);
      ScopedKey scoped = new ScopedKey(key.scope(), key.key());
      RememberedKey known = keys.get(scoped);
      if (known != null && now.isBefore(known.expiresAt())) {
        if (!known.fingerprint().equals(key.fingerprint())) {
          return CompletableFuture.failedFuture(IdempotencyConflictException.forKey(key));
        }
        return CompletableFuture.completedFuture(new AppendReceipt(known.ids(), true));
      }
      // The lock is reentrant: the check, the append and remembering the key are one step.
      CompletableFuture<List<StoredEvent>> stored = append(batch);
      if (stored.isCompletedExceptionally()) {
        return stored.thenApply(events -> null);
      }
      List<Long> ids = stored.join().stream().map(StoredEvent::id).toList();
      forgetKey(scoped);
      RememberedKey remembered =
          new RememberedKey(
              key.fingerprint(), ids, now, now.plus(key.window()), keyBytes(key, ids));
      keys.put(scoped, remembered);
      bytes += remembered.bytes();
      evictOverCap();
      return CompletableFuture.completedFuture(new AppendReceipt(ids, false));
    } finally {
      lock.unlock();
    }
  }

  private void forgetExpiredKeys(Instant now) {
    var entries = keys.values().iterator();
    while (entries.hasNext()) {
      RememberedKey next = entries.next();
      if (now.isBefore(next.expiresAt())) {
        break;
      }
      entries.remove();
      bytes -= next.bytes();
    }
  }

  private void forgetKey(ScopedKey scoped) {
    RememberedKey old = keys.remove(scoped);
    if (old != null) {
      bytes -= old.bytes();
    }
  }

  private static long keyBytes(IdempotencyKey key, List<Long> ids) {
    return ENTRY_OVERHEAD
        + 2L * (key.scope().length() + key.key().length() + key.fingerprint().length())
        + 24L * ids.size();
  }

  private record ScopedKey(String scope, String key) {}

  private record RememberedKey(
      String fingerprint, List<Long> ids, Instant storedAt, Instant expiresAt, long bytes) {}

  @Override
  public CompletableFuture<Void> saveCursors(Map<CursorKey, Long> saved) {
    Objects.requireNonNull(saved, "cursors");
    lock.lock();
    try {
      if (closed) {
        return CompletableFuture.failedFuture(
            new StoreUnavailableException("the memory event log is closed"));
      }
      Instant now = clock.instant();
      forgetOldCursors(now);
      for (Map.Entry<CursorKey, Long> cursor : saved.entrySet()) {
        // Re-inserted at the end: the map stays in the order cursors were saved.
        SavedCursor old = cursors.remove(cursor.getKey());
        if (old != null) {
          bytes -= old.bytes();
        }
        SavedCursor fresh = new SavedCursor(cursor.getValue(), now, cursorBytes(cursor.getKey()));
        cursors.put(cursor.getKey(), fresh);
        bytes += fresh.bytes();
      }
      evictOverCap();
      return CompletableFuture.completedFuture(null);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public java.util.Optional<Long> cursor(CursorKey key) {
    Objects.requireNonNull(key, "key");
    lock.lock();
    try {
      checkOpen();
      forgetOldCursors(clock.instant());
      SavedCursor saved = cursors.get(key);
      return saved == null ? java.util.Optional.empty() : java.util.Optional.of(saved.id());
    } finally {
      lock.unlock();
    }
  }

  /** Cursors expire with the retention age: what they point after is gone by then. */
  private void forgetOldCursors(Instant now) {
    Instant oldest = now.minus(retention.maxAge());
    var entries = cursors.values().iterator();
    while (entries.hasNext()) {
      SavedCursor next = entries.next();
      if (next.savedAt().isAfter(oldest)) {
        break;
      }
      entries.remove();
      bytes -= next.bytes();
    }
  }

  private static long cursorBytes(CursorKey key) {
    long size = ENTRY_OVERHEAD + 2L * key.deviceId().length();
    for (String topic : key.topics()) {
      size += 16 + 2L * topic.length();
    }
    return size;
  }

  private record SavedCursor(long id, Instant savedAt, long bytes) {}

  @Override
  public List<StoredEvent> readAfter(Set<String> topicSet, long afterId, int limit) {
    Objects.requireNonNull(topicSet, "topics");
    Checks.positive("limit", limit);
    lock.lock();
    try {
      checkOpen();
      expire(clock.instant());
      List<TopicLog> logs = new ArrayList<>(topicSet.size());
      for (String topic : topicSet) {
        TopicLog log = topics.get(topic);
        if (log != null && log.size > 0) {
          logs.add(log);
        }
      }
      if (logs.isEmpty()) {
        return List.of();
      }
      if (logs.size() == 1) {
        TopicLog log = logs.get(0);
        int from = log.firstAfter(afterId);
        int to = Math.min(log.size, from + limit);
        List<StoredEvent> page = new ArrayList<>(Math.max(0, to - from));
        for (int i = from; i < to; i++) {
          page.add(log.get(i).event);
        }
        return Collections.unmodifiableList(page);
      }
      return merge(logs, afterId, limit);
    } finally {
      lock.unlock();
    }
  }

  /** Merges several topics' histories in id order, each event once. */
  private static List<StoredEvent> merge(List<TopicLog> logs, long afterId, int limit) {
    int k = logs.size();
    int[] cursor = new int[k];
    for (int i = 0; i < k; i++) {
      cursor[i] = logs.get(i).firstAfter(afterId);
    }
    List<StoredEvent> page = new ArrayList<>(Math.min(limit, 64));
    while (page.size() < limit) {
      Node min = null;
      for (int i = 0; i < k; i++) {
        TopicLog log = logs.get(i);
        if (cursor[i] < log.size) {
          Node node = log.get(cursor[i]);
          if (min == null || node.event.id() < min.event.id()) {
            min = node;
          }
        }
      }
      if (min == null) {
        break;
      }
      page.add(min.event);
      long id = min.event.id();
      for (int i = 0; i < k; i++) {
        TopicLog log = logs.get(i);
        if (cursor[i] < log.size && log.get(cursor[i]).event.id() == id) {
          cursor[i]++;
        }
      }
    }
    return Collections.unmodifiableList(page);
  }

  @Override
  public long lastId() {
    return lastId;
  }

  @Override
  public long droppedThrough(Set<String> topicSet) {
    Objects.requireNonNull(topicSet, "topics");
    lock.lock();
    try {
      checkOpen();
      expire(clock.instant());
      long dropped = 0;
      for (String topic : topicSet) {
        TopicLog log = topics.get(topic);
        dropped = Math.max(dropped, log == null ? forgottenThrough : log.droppedThrough);
      }
      return dropped;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean isAvailable() {
    return !closed;
  }

  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      topics.clear();
      oldest = newest = null;
      oldestEmpty = newestEmpty = null;
      keys.clear();
      cursors.clear();
      bytes = 0;
    } finally {
      lock.unlock();
    }
  }

  /** The estimated heap bytes the log holds now; for tests. */
  long retainedBytes() {
    lock.lock();
    try {
      return bytes;
    } finally {
      lock.unlock();
    }
  }

  /** How many topics the log keeps any state for now; for tests. */
  int topicCount() {
    lock.lock();
    try {
      return topics.size();
    } finally {
      lock.unlock();
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new StoreUnavailableException("the memory event log is closed");
    }
  }

  /** A single topic the log knows as its shared set; any other set as it is. */
  private Set<String> sharedTopics(Set<String> given) {
    if (given.size() == 1) {
      TopicLog log = topics.get(given.iterator().next());
      if (log != null) {
        return log.asTopics;
      }
    }
    return given;
  }

  private void insert(StoredEvent event) {
    Node node = new Node(event, eventBytes(event));
    node.refs = event.topics().size();
    linkNewest(node);
    bytes += node.bytes;
    int maxCount = retention.maxCount();
    for (String topic : event.topics()) {
      TopicLog log = topics.get(topic);
      if (log == null) {
        log = new TopicLog(topic, forgottenThrough);
        topics.put(topic, log);
        bytes += topicBytes(topic);
      } else if (log.size == 0) {
        unlinkEmpty(log);
      }
      log.push(node);
      if (log.size > maxCount) {
        Node dropped = log.poll();
        log.droppedThrough = Math.max(log.droppedThrough, dropped.event.id());
        if (--dropped.refs == 0) {
          unlinkNode(dropped);
          bytes -= dropped.bytes;
        }
      }
    }
  }

  /** Drops every event past its retention age: they are the oldest, timestamps being monotonic. */
  private void expire(Instant now) {
    Instant cutoff = now.minus(retention.maxAge());
    while (oldest != null && !oldest.event.timestamp().isAfter(cutoff)) {
      evictOldest();
    }
  }

  private void evictOverCap() {
    while (bytes > maxBytes) {
      if (oldestEmpty != null) {
        // Forgetting an empty topic costs at most a spurious reset; the rest loses something.
        TopicLog log = oldestEmpty;
        unlinkEmpty(log);
        topics.remove(log.name);
        bytes -= topicBytes(log.name);
        forgottenThrough = Math.max(forgottenThrough, log.droppedThrough);
        continue;
      }
      // Otherwise the oldest of the oldest event, the oldest key and the oldest cursor goes.
      Instant eventAt = oldest == null ? null : oldest.event.timestamp();
      Map.Entry<ScopedKey, RememberedKey> key =
          keys.isEmpty() ? null : keys.entrySet().iterator().next();
      Map.Entry<CursorKey, SavedCursor> cursor =
          cursors.isEmpty() ? null : cursors.entrySet().iterator().next();
      Instant keyAt = key == null ? null : key.getValue().storedAt();
      Instant cursorAt = cursor == null ? null : cursor.getValue().savedAt();
      if (eventAt != null && !after(eventAt, keyAt) && !after(eventAt, cursorAt)) {
        evictOldest();
      } else if (keyAt != null && !after(keyAt, cursorAt)) {
        warnOverCap("idempotency keys");
        forgetKey(key.getKey());
      } else if (cursorAt != null) {
        warnOverCap("device cursors");
        bytes -= cursors.remove(cursor.getKey()).bytes();
      } else {
        break;
      }
    }
  }

  /** Whether {@code a} is after {@code b}; a missing {@code b} counts as newer than anything. */
  private static boolean after(Instant a, Instant b) {
    return b != null && a.isAfter(b);
  }

  private void warnOverCap(String what) {
    if (!warnedOverCap) {
      warnedOverCap = true;
      LOG.log(
          System.Logger.Level.WARNING,
          "memory event log reached its "
              + maxBytes
              + "-byte cap: forgetting the oldest "
              + what
              + " before their time; raise maxBytes or use a durable store");
    }
  }

  /** Removes the oldest event from every topic that still holds it: it is each one's oldest. */
  private void evictOldest() {
    Node node = oldest;
    long id = node.event.id();
    for (String topic : node.event.topics()) {
      TopicLog log = topics.get(topic);
      if (log != null && log.size > 0 && log.get(0) == node) {
        log.poll();
        log.droppedThrough = Math.max(log.droppedThrough, id);
        if (log.size == 0) {
          linkEmpty(log);
        }
      }
    }
    node.refs = 0;
    unlinkNode(node);
    bytes -= node.bytes;
  }

  private void linkNewest(Node node) {
    node.prev = newest;
    if (newest == null) {
      oldest = node;
    } else {
      newest.next = node;
    }
    newest = node;
  }

  private void unlinkNode(Node node) {
    if (node.prev == null) {
      oldest = node.next;
    } else {
      node.prev.next = node.next;
    }
    if (node.next == null) {
      newest = node.prev;
    } else {
      node.next.prev = node.prev;
    }
    node.prev = node.next = null;
  }

  private void linkEmpty(TopicLog log) {
    log.prevEmpty = newestEmpty;
    if (newestEmpty == null) {
      oldestEmpty = log;
    } else {
      newestEmpty.nextEmpty = log;
    }
    newestEmpty = log;
  }

  private void unlinkEmpty(TopicLog log) {
    if (log.prevEmpty == null) {
      oldestEmpty = log.nextEmpty;
    } else {
      log.prevEmpty.nextEmpty = log.nextEmpty;
    }
    if (log.nextEmpty == null) {
      newestEmpty = log.prevEmpty;
    } else {
      log.nextEmpty.prevEmpty = log.prevEmpty;
    }
    log.prevEmpty = log.nextEmpty = null;
  }

  private static long eventBytes(StoredEvent event) {
    // The frame, plus the event's data and type held as strings (up to two bytes per char).
    long size = EVENT_OVERHEAD + event.frame().length + 2L * event.event().data().length();
    size += 2L * event.event().type().length();
    for (String topic : event.topics()) {
      size += 16 + 2L * topic.length();
    }
    return size;
  }

  private static long topicBytes(String topic) {
    return TOPIC_OVERHEAD + 2L * topic.length();
  }

  private static long micros(Instant instant) {
    return TimeUnit.SECONDS.toMicros(instant.getEpochSecond()) + instant.getNano() / 1000;
  }

  /** Builds a {@link MemoryEventLog}. */
  public static final class Builder {
    private Retention retention = Retention.DEFAULT;
    private long maxBytes = DEFAULT_MAX_BYTES;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /** Sets the per-topic retention; default {@link Retention#DEFAULT}. */
    public Builder retention(Retention retention) {
      this.retention = Objects.requireNonNull(retention, "retention");
      return this;
    }

    /** Sets the global cap on the log's estimated heap use, in bytes; default 64 MiB. */
    public Builder maxBytes(long maxBytes) {
      this.maxBytes = Checks.positive("maxBytes", maxBytes);
      return this;
    }

    /** Sets the clock for timestamps, retention by age and the first id; default system UTC. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Returns the log. */
    public MemoryEventLog build() {
      return new MemoryEventLog(this);
    }
  }

  @Override
  public String toString() {
    return "MemoryEventLog{" + retention + ", maxBytes=" + maxBytes + "}";
  }
}
