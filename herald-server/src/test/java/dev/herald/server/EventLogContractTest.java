package dev.herald.server;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link EventLog} contract, checked against any implementation: extend it, implement {@link
 * #newLog} (and {@link #reopen} for a store that outlives a restart), and every line of {@link
 * EventLog}'s Javadoc is tested.
 *
 * <pre>{@code
 * class SqliteEventLogTest extends EventLogContractTest {
 *   @TempDir Path dir;
 *
 *   @Override
 *   protected EventLog newLog(Retention retention, Clock clock) {
 *     return SqliteEventLog.builder().path(dir.resolve("events.db")).retention(retention).clock(clock).build();
 *   }
 * }
 * }</pre>
 *
 * <p>The clock starts at a whole second and moves in whole milliseconds, so a store that keeps
 * timestamps to the millisecond returns events equal to those it stored.
 */
@Timeout(60)
public abstract class EventLogContractTest {
  /** Where every test's clock starts. */
  protected static final Instant START = Instant.parse("2026-01-15T10:00:00Z");

  /** Generous retention, for tests about something else. */
  protected static final Retention PLENTY = new Retention(10_000, Duration.ofHours(1));

  /** The clock handed to the log; tests move it to age events. */
  protected final MutableClock clock = new MutableClock(START);

  /** Every event the logs under test announced to their listener, in announcement order. */
  protected final List<StoredEvent> announced = new CopyOnWriteArrayList<>();

  private final AtomicInteger listenersRunning = new AtomicInteger();
  private final AtomicBoolean announcedConcurrently = new AtomicBoolean();
  private final List<EventLog> opened = new ArrayList<>();

  /**
   * Returns a new, empty log that uses {@code retention} and takes all its time from {@code clock}
   * (timestamps and retention by age). Called once per test, except by {@link
   * #idsAreNeverReusedAfterTheLogIsReopened}, which also calls {@link #reopen}.
   */
  protected abstract EventLog newLog(Retention retention, Clock clock);

  /**
   * Opens again the store that the last {@link #newLog} created, after that log was closed: what a
   * restart of the process would find. The default returns a new, empty log, which is right for a
   * store that does not outlive its process.
   */
  protected EventLog reopen(Retention retention, Clock clock) {
    return newLog(retention, clock);
  }

  @AfterEach
  final void closeLogs() {
    for (EventLog log : opened) {
      log.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ids

  @Test
  void idsStrictlyIncreaseAcrossTopicsAndLastIdIsTheNewest() throws Exception {
    EventLog log = open(PLENTY);
    assertThat(log.lastId()).as("lastId of an empty log").isZero();

    long previous = 0;
    for (int i = 0; i < 30; i++) {
      StoredEvent event = append(log, publication("e" + i, "t" + (i % 3)));
      assertThat(event.id()).as("id of event %d", i).isGreaterThan(previous);
      assertThat(log.lastId()).isEqualTo(event.id());
      previous = event.id();
    }
  }

  @Test
  void batchGetsIdsInBatchOrderAndKeepsEveryField() throws Exception {
    EventLog log = open(PLENTY);
    List<Publication> batch =
        List.of(
            new Publication(
                Set.of("a"), Event.builder().id("client-chosen").type("price").data("1").build()),
            publication("two\nlines", "b"),
            new Publication(Set.of("a", "b"), Event.of("both", "3")),
            publication("", "c"));

    List<StoredEvent> stored = log.append(batch).get(10, SECONDS);

    assertThat(stored).hasSize(4);
    for (int i = 0; i < stored.size(); i++) {
      StoredEvent event = stored.get(i);
      Publication publication = batch.get(i);
      if (i > 0) {
        assertThat(event.id()).isGreaterThan(stored.get(i - 1).id());
      }
      assertThat(event.topics()).isEqualTo(publication.topics());
      assertThat(event.event().type()).isEqualTo(publication.event().type());
      assertThat(event.event().data()).isEqualTo(publication.event().data());
      assertThat(event.event().id())
          .as("the log's id replaces any given")
          .hasValue("" + event.id());
      assertThat(event.timestamp()).isEqualTo(clock.instant());
    }
    assertThat(log.readAfter(Set.of("a", "b", "c"), 0, 100))
        .as("reads return what was stored, unchanged")
        .containsExactlyElementsOf(stored);
    assertThat(log.lastId()).isEqualTo(stored.get(3).id());
  }

  @Test
  void emptyBatchStoresNothing() throws Exception {
    EventLog log = open(PLENTY);
    StoredEvent first = append(log, publication("x", "a"));

    assertThat(log.append(List.of()).get(10, SECONDS)).isEmpty();

    assertThat(log.lastId()).isEqualTo(first.id());
    assertThat(log.readAfter(Set.of("a"), 0, 10)).containsExactly(first);
  }

  @Test
  void batchBecomesVisibleAllOrNothing() throws Exception {
    EventLog log = open(PLENTY);
    int batches = 100;
    int batchSize = 5;
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService reader = Executors.newSingleThreadExecutor();
    try {
      Future<List<Integer>> partial =
          reader.submit(
              () -> {
                List<Integer> oddSizes = new ArrayList<>();
                for (int i = 0; i < 100_000 && writing.get(); i++) {
                  int size = log.readAfter(Set.of("t"), 0, 10_000).size();
                  if (size % batchSize != 0) {
                    oddSizes.add(size);
                  }
                }
                return oddSizes;
              });
      for (int b = 0; b < batches; b++) {
        List<Publication> batch = new ArrayList<>();
        for (int i = 0; i < batchSize; i++) {
          batch.add(publication(b + "." + i, "t"));
        }
        assertThat(log.append(batch).get(10, SECONDS)).hasSize(batchSize);
      }
      writing.set(false);
      assertThat(partial.get(30, SECONDS)).as("reads that saw part of a batch").isEmpty();
    } finally {
      reader.shutdownNow();
    }
    assertThat(log.readAfter(Set.of("t"), 0, 10_000)).hasSize(batches * batchSize);
  }

  @Test
  void idsAreNeverReusedAfterTheLogIsReopened() throws Exception {
    Retention retention = PLENTY;
    EventLog first = newLog(retention, clock);
    first.listener(this::record);
    List<StoredEvent> old = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      old.add(append(first, publication("old" + i, "a")));
    }
    long lastOld = old.get(2).id();
    first.close();

    clock.advance(Duration.ofSeconds(1));
    EventLog again = reopen(retention, clock);
    opened.add(again);
    again.listener(this::record);
    boolean kept = again.readAfter(Set.of("a"), 0, 100).equals(old);
    StoredEvent fresh = append(again, publication("new", "a"));

    assertThat(fresh.id()).as("first id after reopening").isGreaterThan(lastOld);
    if (!kept) {
      // History was lost: resuming from an old id must be seen as expired, never as complete.
      assertThat(again.droppedThrough(Set.of("a")))
          .as("droppedThrough after losing history")
          .isGreaterThanOrEqualTo(lastOld);
    } else {
      assertThat(again.readAfter(Set.of("a"), 0, 100))
          .containsExactly(old.get(0), old.get(1), old.get(2), fresh);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Listener

  @Test
  void listenerHearsEveryEventOnceInIdOrderBeforeTheAppendCompletes() throws Exception {
    EventLog log = open(PLENTY);
    int threads = 4;
    int appendsPerThread = 40;
    Set<Long> announcedIds = ConcurrentHashMap.newKeySet();
    List<StoredEvent> ordered = new CopyOnWriteArrayList<>();
    List<String> violations = new CopyOnWriteArrayList<>();
    announcedIdsSink = events -> events.forEach(e -> announcedIds.add(e.id()));
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    try {
      List<Future<List<StoredEvent>>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        results.add(
            pool.submit(
                () -> {
                  go.await(10, SECONDS);
                  List<StoredEvent> mine = new ArrayList<>();
                  for (int i = 0; i < appendsPerThread; i++) {
                    List<Publication> batch = new ArrayList<>();
                    for (int j = 0; j <= i % 3; j++) {
                      batch.add(publication(thread + "." + i + "." + j, "t" + j, "all"));
                    }
                    CompletableFuture<List<StoredEvent>> future = log.append(batch);
                    // Runs at completion (or now, if already complete): the listener must have
                    // heard of every event by then.
                    future.thenAccept(
                        events -> {
                          for (StoredEvent event : events) {
                            if (!announcedIds.contains(event.id())) {
                              violations.add("completed before announced: " + event.id());
                            }
                          }
                        });
                    mine.addAll(future.get(10, SECONDS));
                  }
                  return mine;
                }));
      }
      go.countDown();
      List<StoredEvent> appended = new ArrayList<>();
      for (Future<List<StoredEvent>> result : results) {
        appended.addAll(result.get(30, SECONDS));
      }
      ordered.addAll(announced);

      assertThat(violations).isEmpty();
      assertThat(announcedConcurrently).as("listener called concurrently").isFalse();
      List<Long> announcedOrder = ordered.stream().map(StoredEvent::id).toList();
      assertThat(announcedOrder)
          .as("announced in strictly increasing id order")
          .isSorted()
          .doesNotHaveDuplicates();
      assertThat(announcedOrder)
          .containsExactlyInAnyOrderElementsOf(appended.stream().map(StoredEvent::id).toList());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void announcedEventsAreAlreadyReadable() throws Exception {
    EventLog log = newLog(PLENTY, clock);
    opened.add(log);
    List<String> unreadable = new CopyOnWriteArrayList<>();
    log.listener(
        events -> {
          for (StoredEvent event : events) {
            List<StoredEvent> read = log.readAfter(event.topics(), event.id() - 1, 1);
            if (read.isEmpty() || read.get(0).id() != event.id()) {
              unreadable.add(event.id() + " read as " + read);
            }
          }
        });

    for (int i = 0; i < 20; i++) {
      append(log, publication("e" + i, "t" + (i % 2)));
    }
    log.append(List.of(publication("b1", "x"), publication("b2", "y"))).get(10, SECONDS);

    assertThat(unreadable).as("events announced before they could be read").isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  @Test
  void readAfterPagesInIdOrderWithEachEventOnceAcrossTopics() throws Exception {
    EventLog log = open(PLENTY);
    List<StoredEvent> all = new ArrayList<>();
    List<Set<String>> targets = List.of(Set.of("a"), Set.of("b"), Set.of("a", "b"), Set.of("c"));
    for (int i = 0; i < 40; i++) {
      all.add(append(log, new Publication(targets.get(i % 4), Event.of("e" + i))));
    }
    List<StoredEvent> aOrB =
        all.stream().filter(e -> e.topics().contains("a") || e.topics().contains("b")).toList();

    List<StoredEvent> paged = new ArrayList<>();
    long after = 0;
    for (int pages = 0; pages < 100; pages++) {
      List<StoredEvent> page = log.readAfter(Set.of("a", "b"), after, 4);
      assertThat(page.size()).as("page size").isLessThanOrEqualTo(4);
      if (page.isEmpty()) {
        break;
      }
      paged.addAll(page);
      after = page.get(page.size() - 1).id();
    }

    assertThat(paged).containsExactlyElementsOf(aOrB);
    assertThat(log.readAfter(Set.of("c"), 0, 100))
        .containsExactlyElementsOf(all.stream().filter(e -> e.topics().contains("c")).toList());
    long middle = all.get(20).id();
    assertThat(log.readAfter(Set.of("a", "b", "c"), middle, 100))
        .containsExactlyElementsOf(all.subList(21, 40));
    assertThat(log.readAfter(Set.of("a", "b", "c"), log.lastId(), 100)).isEmpty();
    assertThat(log.readAfter(Set.of("nobody-published-here"), 0, 100)).isEmpty();
  }

  @Test
  void readAfterReturnsAtMostTheLimit() throws Exception {
    EventLog log = open(PLENTY);
    List<StoredEvent> all = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      all.add(append(log, publication("e" + i, "t")));
    }

    assertThat(log.readAfter(Set.of("t"), 0, 7)).containsExactlyElementsOf(all.subList(0, 7));
    assertThat(log.readAfter(Set.of("t"), all.get(44).id(), 7))
        .containsExactlyElementsOf(all.subList(45, 50));
  }

  // ---------------------------------------------------------------------------------------------
  // Retention

  @Test
  void retentionByCountKeepsTheNewestOfEachTopic() throws Exception {
    EventLog log = open(new Retention(3, Duration.ofHours(1)));
    List<StoredEvent> a = new ArrayList<>();
    List<StoredEvent> b = new ArrayList<>();
    b.add(append(log, publication("b0", "b")));
    for (int i = 0; i < 5; i++) {
      a.add(append(log, publication("a" + i, "a")));
    }
    b.add(append(log, publication("b1", "b")));

    assertThat(log.readAfter(Set.of("a"), 0, 100)).containsExactlyElementsOf(a.subList(2, 5));
    assertThat(log.readAfter(Set.of("b"), 0, 100)).as("other topics keep theirs").isEqualTo(b);
    long dropped = a.get(1).id();
    assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(dropped);
    assertThat(log.droppedThrough(Set.of("a", "b"))).isEqualTo(dropped);
    assertThat(log.droppedThrough(Set.of("b"))).isLessThan(b.get(0).id());
    // Resuming exactly at the newest dropped id loses nothing: the rest is all there.
    assertThat(log.readAfter(Set.of("a"), dropped, 100)).containsExactlyElementsOf(a.subList(2, 5));
  }

  @Test
  void eventOfSeveralTopicsStaysReadableWhileOneOfThemRetainsIt() throws Exception {
    EventLog log = open(new Retention(2, Duration.ofHours(1)));
    StoredEvent both = append(log, new Publication(Set.of("a", "b"), Event.of("both")));
    StoredEvent a1 = append(log, publication("a1", "a"));
    StoredEvent a2 = append(log, publication("a2", "a"));

    assertThat(log.readAfter(Set.of("a"), 0, 10)).containsExactly(a1, a2);
    assertThat(log.readAfter(Set.of("b"), 0, 10)).containsExactly(both);
    assertThat(log.readAfter(Set.of("a", "b"), 0, 10)).containsExactly(both, a1, a2);
    assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(both.id());
    assertThat(log.droppedThrough(Set.of("b"))).isLessThan(both.id());
  }

  @Test
  void retentionByAgeDropsEventsTheMomentTheyAreTooOld() throws Exception {
    EventLog log = open(new Retention(100, Duration.ofSeconds(10)));
    StoredEvent first = append(log, publication("first", "a"));
    clock.advance(Duration.ofSeconds(6));
    StoredEvent second = append(log, publication("second", "a"));
    StoredEvent other = append(log, publication("other", "b"));
    assertThat(log.readAfter(Set.of("a"), 0, 10)).containsExactly(first, second);
    assertThat(log.droppedThrough(Set.of("a"))).isLessThan(first.id());

    clock.advance(Duration.ofSeconds(5)); // first is 11 s old, second 5 s

    assertThat(log.readAfter(Set.of("a"), 0, 10)).containsExactly(second);
    assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(first.id());
    assertThat(log.readAfter(Set.of("a"), first.id(), 10)).containsExactly(second);
    assertThat(log.readAfter(Set.of("b"), 0, 10)).containsExactly(other);

    clock.advance(Duration.ofSeconds(6)); // both are too old now

    assertThat(log.readAfter(Set.of("a", "b"), 0, 10)).isEmpty();
    assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(second.id());
    assertThat(log.droppedThrough(Set.of("b"))).isEqualTo(other.id());
    assertThat(log.lastId()).as("lastId survives retention").isEqualTo(other.id());

    StoredEvent third = append(log, publication("third", "a"));
    assertThat(third.id()).isGreaterThan(other.id());
    assertThat(log.readAfter(Set.of("a"), 0, 10)).containsExactly(third);
    assertThat(log.droppedThrough(Set.of("a"))).isEqualTo(second.id());
  }

  @Test
  void nothingDroppedMeansDroppedThroughIsBelowEveryId() throws Exception {
    EventLog log = open(PLENTY);
    long before = log.droppedThrough(Set.of("a"));
    StoredEvent first = append(log, publication("x", "a"));

    assertThat(before).isLessThan(first.id());
    assertThat(log.droppedThrough(Set.of("a"))).isLessThan(first.id());
    assertThat(log.droppedThrough(Set.of("a", "never-used"))).isLessThan(first.id());
  }

  // ---------------------------------------------------------------------------------------------
  // Close

  @Test
  void closedLogFailsAppendsWithStoreUnavailable() throws Exception {
    EventLog log = open(PLENTY);
    append(log, publication("x", "a"));
    log.close();

    CompletableFuture<List<StoredEvent>> after;
    try {
      after = log.append(List.of(publication("y", "a")));
    } catch (StoreUnavailableException e) {
      after = CompletableFuture.failedFuture(e);
    }
    assertThat(after)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableThat()
        .havingCause()
        .isInstanceOf(StoreUnavailableException.class);
    log.close(); // idempotent
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private volatile java.util.function.Consumer<List<StoredEvent>> announcedIdsSink = events -> {};

  /** Opens a log with the recording listener; closed after the test. */
  protected final EventLog open(Retention retention) {
    EventLog log = newLog(retention, clock);
    opened.add(log);
    log.listener(this::record);
    return log;
  }

  private void record(List<StoredEvent> events) {
    if (listenersRunning.incrementAndGet() > 1) {
      announcedConcurrently.set(true);
    }
    try {
      announcedIdsSink.accept(events);
      announced.addAll(events);
    } finally {
      listenersRunning.decrementAndGet();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Idempotency keys (for logs that support them)

  /**
   * Whether the log under test supports {@link EventLog#append(List, IdempotencyKey)}; the
   * idempotency tests are skipped otherwise. Default {@code false}.
   */
  protected boolean supportsIdempotencyKeys() {
    return false;
  }

  private static IdempotencyKey key(String key, String fingerprint) {
    return new IdempotencyKey("tenant", key, fingerprint, Duration.ofMinutes(10));
  }

  @Test
  void retriedKeyAnswersTheFirstIdsAndStoresNothing() throws Exception {
    Assumptions.assumeTrue(supportsIdempotencyKeys(), "the log supports no idempotency keys");
    EventLog log = open(PLENTY);
    AppendReceipt first =
        log.append(List.of(publication("a", "t"), publication("b", "t")), key("k1", "f1"))
            .get(10, SECONDS);
    assertThat(first.replayed()).isFalse();
    assertThat(first.ids()).hasSize(2);
    AppendReceipt again =
        log.append(List.of(publication("a", "t"), publication("b", "t")), key("k1", "f1"))
            .get(10, SECONDS);
    assertThat(again.replayed()).isTrue();
    assertThat(again.ids()).isEqualTo(first.ids());
    assertThat(log.readAfter(Set.of("t"), 0, 10)).hasSize(2);
    assertThat(log.lastId()).isEqualTo(first.ids().get(1));
    // The same key in another scope is another key.
    AppendReceipt otherScope =
        log.append(
                List.of(publication("a", "t")),
                new IdempotencyKey("other", "k1", "f1", Duration.ofMinutes(10)))
            .get(10, SECONDS);
    assertThat(otherScope.replayed()).isFalse();
    assertThat(log.readAfter(Set.of("t"), 0, 10)).hasSize(3);
  }

  @Test
  void keyReusedForAnotherRequestConflictsAndStoresNothing() throws Exception {
    Assumptions.assumeTrue(supportsIdempotencyKeys(), "the log supports no idempotency keys");
    EventLog log = open(PLENTY);
    log.append(List.of(publication("a", "t")), key("k", "f1")).get(10, SECONDS);
    CompletableFuture<AppendReceipt> conflict =
        log.append(List.of(publication("b", "t")), key("k", "f2"));
    assertThat(conflict)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(IdempotencyConflictException.class);
    assertThat(log.readAfter(Set.of("t"), 0, 10))
        .extracting(e -> e.event().data())
        .containsExactly("a");
  }

  @Test
  void concurrentAppendsWithOneKeyStoreOnce() throws Exception {
    Assumptions.assumeTrue(supportsIdempotencyKeys(), "the log supports no idempotency keys");
    EventLog log = open(PLENTY);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<AppendReceipt>> results = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        results.add(
            pool.submit(
                () -> {
                  go.await(10, SECONDS);
                  return log.append(List.of(publication("x", "t")), key("race", "f"))
                      .get(10, SECONDS);
                }));
      }
      go.countDown();
      Set<List<Long>> ids = new java.util.HashSet<>();
      int fresh = 0;
      for (Future<AppendReceipt> result : results) {
        AppendReceipt appended = result.get(20, SECONDS);
        ids.add(appended.ids());
        fresh += appended.replayed() ? 0 : 1;
      }
      assertThat(fresh).isEqualTo(1);
      assertThat(ids).hasSize(1);
      assertThat(log.readAfter(Set.of("t"), 0, 100)).hasSize(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void keyIsForgottenAfterItsWindow() throws Exception {
    Assumptions.assumeTrue(supportsIdempotencyKeys(), "the log supports no idempotency keys");
    EventLog log = open(PLENTY);
    AppendReceipt first =
        log.append(List.of(publication("a", "t")), key("k", "f")).get(10, SECONDS);
    clock.advance(Duration.ofMinutes(9));
    assertThat(log.append(List.of(publication("a", "t")), key("k", "f")).get(10, SECONDS))
        .isEqualTo(new AppendReceipt(first.ids(), true));
    clock.advance(Duration.ofMinutes(2));
    AppendReceipt later =
        log.append(List.of(publication("a", "t")), key("k", "f")).get(10, SECONDS);
    assertThat(later.replayed()).isFalse();
    assertThat(later.ids().get(0)).isGreaterThan(first.ids().get(0));
    // And a different request may now use the key.
    clock.advance(Duration.ofMinutes(11));
    assertThat(
            log.append(List.of(publication("b", "t")), key("k", "g")).get(10, SECONDS).replayed())
        .isFalse();
  }

  // ---------------------------------------------------------------------------------------------
  // Device cursors (for logs that store them)

  @Test
  void savedCursorsReadBackPerDeviceAndTopicSetAndSurviveAReopen() throws Exception {
    EventLog log = open(new Retention(100, Duration.ofMinutes(10)));
    CursorKey phone = CursorKey.of("phone", Set.of("b", "a"));
    CursorKey laptop = CursorKey.of("laptop", Set.of("a", "b"));
    log.saveCursors(java.util.Map.of(phone, 41L, laptop, 7L)).get(10, SECONDS);
    log.saveCursors(java.util.Map.of(phone, 42L)).get(10, SECONDS);
    assertThat(log.cursor(CursorKey.of("phone", Set.of("a", "b")))).hasValue(42L);
    assertThat(log.cursor(laptop)).hasValue(7L);
    assertThat(log.cursor(CursorKey.of("phone", Set.of("a")))).isEmpty();

    log.close();
    EventLog reopened = reopen(new Retention(100, Duration.ofMinutes(10)), clock);
    opened.add(reopened);
    if (reopensWithHistory()) {
      assertThat(reopened.cursor(phone)).hasValue(42L);
    }
  }

  @Test
  void cursorsExpireWithTheRetentionAge() throws Exception {
    EventLog log = open(new Retention(100, Duration.ofMinutes(10)));
    CursorKey old = CursorKey.of("old", Set.of("a"));
    CursorKey fresh = CursorKey.of("fresh", Set.of("a"));
    log.saveCursors(java.util.Map.of(old, 5L)).get(10, SECONDS);
    clock.advance(Duration.ofMinutes(6));
    log.saveCursors(java.util.Map.of(fresh, 6L)).get(10, SECONDS);
    clock.advance(Duration.ofMinutes(5));
    assertThat(log.cursor(old)).isEmpty();
    assertThat(log.cursor(fresh)).hasValue(6L);
  }

  /** Whether {@link #reopen} finds what the closed log stored (false for in-memory logs). */
  protected boolean reopensWithHistory() {
    return false;
  }

  /** Appends one publication and waits for it. */
  protected static StoredEvent append(EventLog log, Publication publication) throws Exception {
    List<StoredEvent> stored = log.append(List.of(publication)).get(10, SECONDS);
    assertThat(stored).hasSize(1);
    return stored.get(0);
  }

  /** A message event with {@code data} for {@code topics}. */
  protected static Publication publication(String data, String... topics) {
    return new Publication(new LinkedHashSet<>(List.of(topics)), Event.of(data));
  }
}
