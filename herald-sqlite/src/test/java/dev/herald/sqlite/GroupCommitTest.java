package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Many publishers at once: one writer, grouped commits, exact order. */
@Timeout(60)
class GroupCommitTest {
  private static final int THREADS = 8;
  private static final int PER_THREAD = 2_000;

  /** Each publisher keeps this many appends in flight, as a busy hub's connections do. */
  private static final int IN_FLIGHT = 8;

  @TempDir Path dir;

  @ParameterizedTest(name = "fsync={0}")
  @ValueSource(booleans = {false, true})
  void concurrentPublishersAreGroupedIntoFewTransactionsInExactIdOrder(boolean fsync)
      throws Exception {
    int perThread = fsync ? PER_THREAD / 4 : PER_THREAD; // a disk sync per commit is slower
    Set<Long> announcedIds = ConcurrentHashMap.newKeySet();
    List<Long> announcedOrder = new CopyOnWriteArrayList<>();
    List<String> violations = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log =
        SqliteEventLog.builder()
            .path(dir.resolve("events.db"))
            .retention(new Retention(100_000, Duration.ofHours(1)))
            .fsync(fsync)
            .build()) {
      log.listener(
          events -> {
            for (StoredEvent event : events) {
              announcedIds.add(event.id());
              announcedOrder.add(event.id());
            }
          });
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      CountDownLatch go = new CountDownLatch(1);
      try {
        List<Future<List<StoredEvent>>> results = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          int thread = t;
          results.add(
              pool.submit(
                  () -> {
                    go.await(10, SECONDS);
                    List<StoredEvent> mine = new ArrayList<>();
                    ArrayDeque<CompletableFuture<List<StoredEvent>>> pending = new ArrayDeque<>();
                    for (int i = 0; i < perThread; i++) {
                      CompletableFuture<List<StoredEvent>> future =
                          log.append(List.of(publication(thread + ":" + i, "t" + thread, "all")));
                      future.thenAccept(
                          events -> {
                            if (!announcedIds.contains(events.get(0).id())) {
                              violations.add("completed before announced: " + events.get(0));
                            }
                          });
                      pending.add(future);
                      if (pending.size() >= IN_FLIGHT) {
                        mine.addAll(pending.poll().get(20, SECONDS));
                      }
                    }
                    while (!pending.isEmpty()) {
                      mine.addAll(pending.poll().get(20, SECONDS));
                    }
                    return mine;
                  }));
        }
        go.countDown();
        List<StoredEvent> all = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          List<StoredEvent> mine = results.get(t).get(50, SECONDS);
          assertThat(mine).hasSize(perThread);
          // One publisher's appends keep their order: its events' ids increase.
          assertThat(mine.stream().map(StoredEvent::id).toList()).isSorted();
          for (int i = 0; i < perThread; i++) {
            assertThat(mine.get(i).event().data()).isEqualTo(t + ":" + i);
          }
          all.addAll(mine);
        }
        int appends = THREADS * perThread;

        assertThat(violations).isEmpty();
        assertThat(announcedOrder).hasSize(appends).isSorted().doesNotHaveDuplicates();
        assertThat(announcedOrder)
            .containsExactlyInAnyOrderElementsOf(all.stream().map(StoredEvent::id).toList());
        assertThat(log.transactionCount())
            .as("commits for %d appends: they were grouped", appends)
            .isLessThan(appends);
        assertThat(readAll(log, Set.of("all"), 500).stream().map(StoredEvent::id).toList())
            .isEqualTo(announcedOrder);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void appendThatCannotBeStoredFailsAloneAndItsGroupCommits() throws Exception {
    CountDownLatch writerHeld = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<Long> announced = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log =
        SqliteEventLog.builder().path(dir.resolve("events.db")).maxValueBytes(10_000).build()) {
      log.listener(
          events -> {
            events.forEach(e -> announced.add(e.id()));
            if (writerHeld.getCount() > 0) {
              // Hold the writer on its first group so the next appends queue up into one group.
              writerHeld.countDown();
              awaitQuietly(release);
            }
          });
      // From a thread of its own: an append that finds the writer idle commits and is announced on
      // the publishing thread, which the listener then holds.
      CompletableFuture<List<StoredEvent>> first =
          CompletableFuture.supplyAsync(() -> log.append(List.of(publication("first", "a"))))
              .thenCompose(appended -> appended);
      assertThat(writerHeld.await(10, SECONDS)).isTrue();
      CompletableFuture<List<StoredEvent>> before =
          log.append(List.of(publication("before", "a"), publication("before too", "b")));
      CompletableFuture<List<StoredEvent>> tooBig =
          log.append(List.of(publication("fits", "a"), publication("x".repeat(20_000), "a")));
      CompletableFuture<List<StoredEvent>> after = log.append(List.of(publication("after", "b")));
      long transactionsBefore = log.transactionCount();
      release.countDown();

      assertThat(first.get(10, SECONDS)).hasSize(1);
      List<StoredEvent> beforeEvents = before.get(10, SECONDS);
      List<StoredEvent> afterEvents = after.get(10, SECONDS);
      assertThat(tooBig)
          .failsWithin(Duration.ofSeconds(10))
          .withThrowableThat()
          .havingCause()
          .isInstanceOf(StoreUnavailableException.class);
      assertThat(log.transactionCount())
          .as("the three queued appends went into one transaction")
          .isEqualTo(transactionsBefore + 1);
      assertThat(afterEvents.get(0).id())
          .as("ids stay consecutive: the failed batch's ids were never committed")
          .isEqualTo(beforeEvents.get(1).id() + 1);
      List<StoredEvent> stored = readAll(log, Set.of("a", "b"), 100);
      assertThat(stored.stream().map(e -> e.event().data()).toList())
          .as("nothing of the failed batch was stored, not even its first event")
          .containsExactly("first", "before", "before too", "after");
      assertThat(announced).isEqualTo(stored.stream().map(StoredEvent::id).toList());
      assertThat(log.isAvailable()).isTrue();
    }
  }

  @Test
  void closeReturnsOnlyOnceEveryAcceptedAppendIsAnswered() throws Exception {
    // Appends are answered on the completer thread, after the writer has moved on: close() must
    // still leave none of them pending.
    List<CompletableFuture<List<StoredEvent>>> futures = new ArrayList<>();
    SqliteEventLog log = SqliteEventLog.builder().path(dir.resolve("events.db")).build();
    try {
      log.listener(events -> {});
      for (int i = 0; i < 2_000; i++) {
        futures.add(log.append(List.of(publication("e" + i, "t" + (i % 10)))));
      }
    } finally {
      log.close();
    }
    List<Long> ids = new ArrayList<>();
    for (CompletableFuture<List<StoredEvent>> future : futures) {
      assertThat(future).as("answered before close() returned").isDone();
      ids.add(future.getNow(null).get(0).id());
    }
    assertThat(ids).as("stored in submission order").isSorted().doesNotHaveDuplicates();
    try (SqliteEventLog reopened =
        SqliteEventLog.builder().path(dir.resolve("events.db")).build()) {
      assertThat(reopened.lastId()).isEqualTo(ids.get(ids.size() - 1));
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      if (!latch.await(10, SECONDS)) {
        throw new AssertionError("not released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
