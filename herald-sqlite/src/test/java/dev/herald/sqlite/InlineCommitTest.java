package dev.herald.sqlite;

import static dev.herald.sqlite.Logs.publication;
import static dev.herald.sqlite.Logs.readAll;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Appends that find the writer idle commit on the publishing thread (see {@link WriteLoop}): when
 * they do, when they must not, and that nothing is lost or reordered either way.
 */
@Timeout(60)
class InlineCommitTest {
  @TempDir Path dir;

  @Test
  void anAppendThatFindsTheWriterIdleIsCommittedAndAnnouncedOnThePublishingThread()
      throws Exception {
    List<String> announcedOn = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log = SqliteEventLog.builder().path(dir.resolve("events.db")).build()) {
      log.listener(events -> announcedOn.add(Thread.currentThread().getName()));
      awaitInlineCommits(log);
      AtomicReference<String> answeredOn = new AtomicReference<>();
      CompletableFuture<List<StoredEvent>> appended = log.append(List.of(publication("x", "a")));
      appended.thenRun(() -> answeredOn.set(Thread.currentThread().getName()));

      assertThat(appended).as("committed before append() returned").isDone();
      assertThat(announcedOn).containsExactly(Thread.currentThread().getName());
      assertThat(answeredOn.get()).isEqualTo(Thread.currentThread().getName());
      assertThat(readAll(log, Set.of("a"), 10)).containsExactlyElementsOf(appended.get());
    }
  }

  @Test
  void withFsyncEveryAppendGoesToTheWriterThread() throws Exception {
    List<String> announcedOn = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log =
        SqliteEventLog.builder().path(dir.resolve("events.db")).fsync(true).build()) {
      log.listener(events -> announcedOn.add(Thread.currentThread().getName()));
      for (int i = 0; i < 5; i++) {
        log.append(List.of(publication("x" + i, "a"))).get(10, SECONDS);
      }
      assertThat(announcedOn).hasSize(5).containsOnly("herald-sqlite-writer");
    }
  }

  @Test
  void aListenerThatPublishesHasItsAppendQueuedNotNested() throws Exception {
    CompletableFuture<List<StoredEvent>> echo = new CompletableFuture<>();
    List<Long> announced = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log = SqliteEventLog.builder().path(dir.resolve("events.db")).build()) {
      AtomicReference<SqliteEventLog> self = new AtomicReference<>(log);
      log.listener(
          events -> {
            events.forEach(event -> announced.add(event.id()));
            if (events.get(0).event().data().equals("first")) {
              // Holding the writer's lock here: an inline commit would nest a transaction.
              self.get().append(List.of(publication("echo", "a"))).whenComplete(complete(echo));
            }
          });
      List<StoredEvent> first = log.append(List.of(publication("first", "a"))).get(10, SECONDS);
      List<StoredEvent> second = echo.get(10, SECONDS);

      assertThat(second.get(0).id()).isGreaterThan(first.get(0).id());
      assertThat(announced).containsExactly(first.get(0).id(), second.get(0).id());
      assertThat(readAll(log, Set.of("a"), 10).stream().map(e -> e.event().data()))
          .containsExactly("first", "echo");
    }
  }

  @Test
  void closingTheLogFromAnInlineAppendsAnswerDoesNotDeadlock() throws Exception {
    SqliteEventLog log = SqliteEventLog.builder().path(dir.resolve("events.db")).build();
    log.listener(events -> {});
    CompletableFuture<Void> closed = log.append(List.of(publication("x", "a"))).thenRun(log::close);

    // The answer runs once append() let go of every lock; close() waits for the writer thread.
    closed.get(30, SECONDS);
    assertThat(log.isAvailable()).isFalse();
    try (SqliteEventLog reopened =
        SqliteEventLog.builder().path(dir.resolve("events.db")).build()) {
      assertThat(readAll(reopened, Set.of("a"), 10)).hasSize(1);
    }
  }

  @Test
  void aSlowCommitSendsTheNextAppendsToTheWriterThread() throws Exception {
    Path file = dir.resolve("events.db");
    List<String> announcedOn = new CopyOnWriteArrayList<>();
    try (SqliteEventLog log =
        SqliteEventLog.builder().path(file).busyTimeout(Duration.ofSeconds(20)).build()) {
      log.listener(events -> announcedOn.add(Thread.currentThread().getName()));
      awaitInlineCommits(log);
      CompletableFuture<List<StoredEvent>> slow = new CompletableFuture<>();
      try (Connection intruder = DriverManager.getConnection("jdbc:sqlite:" + file);
          Statement statement = intruder.createStatement()) {
        statement.execute("BEGIN IMMEDIATE");
        Thread publisher =
            new Thread(
                () -> log.append(List.of(publication("slow", "a"))).whenComplete(complete(slow)));
        publisher.start();
        awaitInCommit(publisher);
        // Its commit waits for the intruder's lock, well past the inline limit of 10 ms.
        assertThatThrownBy(() -> slow.get(100, MILLISECONDS)).isInstanceOf(TimeoutException.class);
        statement.execute("ROLLBACK");
      }
      slow.get(10, SECONDS);
      log.append(List.of(publication("after", "a"))).get(10, SECONDS);

      assertThat(announcedOn)
          .as("the slow commit went inline; the next one, within the pause, to the writer")
          .hasSize(2)
          .last()
          .isEqualTo("herald-sqlite-writer");
      assertThat(announcedOn.get(0)).isNotEqualTo("herald-sqlite-writer");
      assertThat(readAll(log, Set.of("a"), 10).stream().map(e -> e.event().data()))
          .containsExactly("slow", "after");
    }
  }

  /**
   * Waits, bounded, until the writer takes inline commits: after its start-up retention run, which
   * comes before any append.
   */
  private static void awaitInlineCommits(SqliteEventLog log) {
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (!log.commitsInline()) {
      assertThat(System.nanoTime()).as("the writer's start-up run ended").isLessThan(deadline);
      LockSupport.parkNanos(MILLISECONDS.toNanos(1));
    }
  }

  /** Waits, bounded, until {@code thread} is inside a group's transaction. */
  private static void awaitInCommit(Thread thread) {
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (Arrays.stream(thread.getStackTrace())
        .noneMatch(
            frame ->
                frame.getMethodName().equals("commit")
                    && frame.getClassName().equals(GroupTransaction.class.getName()))) {
      assertThat(System.nanoTime()).as("the append reached its commit").isLessThan(deadline);
      assertThat(thread.isAlive()).as("the publisher is still appending").isTrue();
      LockSupport.parkNanos(MILLISECONDS.toNanos(1));
    }
  }

  private static <T> java.util.function.BiConsumer<T, Throwable> complete(
      CompletableFuture<T> target) {
    return (value, error) -> {
      if (error != null) {
        target.completeExceptionally(error);
      } else {
        target.complete(value);
      }
    };
  }
}
