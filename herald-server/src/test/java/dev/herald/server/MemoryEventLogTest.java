package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.spi.AppendReceipt;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The contract, plus what only the memory log promises: boot-time ids and the global byte cap. */
class MemoryEventLogTest extends EventLogContractTest {
  @Override
  protected boolean supportsIdempotencyKeys() {
    return true;
  }

  @Override
  protected EventLog newLog(Retention retention, Clock clock) {
    return MemoryEventLog.builder().retention(retention).clock(clock).build();
  }

  @Test
  void idsStartAtTheBootTimeInMicroseconds() throws Exception {
    EventLog log = open(PLENTY);
    StoredEvent first = append(log, publication("x", "a"));

    assertThat(first.id()).isEqualTo(ChronoUnit.MICROS.between(java.time.Instant.EPOCH, START));
    assertThat(log.droppedThrough(Set.of("a")))
        .as("every id before boot counts as dropped")
        .isEqualTo(first.id() - 1);
  }

  @Test
  void idsNeverFallBehindTheClock() throws Exception {
    EventLog log = open(PLENTY);
    append(log, publication("x", "a"));
    clock.advance(Duration.ofSeconds(5));

    StoredEvent later = append(log, publication("y", "a"));

    assertThat(later.id())
        .isEqualTo(ChronoUnit.MICROS.between(java.time.Instant.EPOCH, START) + 5_000_000);
  }

  @Test
  void retainedSingleTopicEventsShareTheirTopicsSet() throws Exception {
    EventLog log = open(PLENTY);
    // Each publication with a topic string of its own, as a parsed request body gives them.
    List<StoredEvent> stored = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      stored.add(append(log, new Publication(Set.of(new String("room")), Event.of("e" + i))));
    }
    stored.add(append(log, new Publication(Set.of(new String("room"), "other"), Event.of("m"))));

    assertThat(stored.get(2).topics()).isSameAs(stored.get(1).topics()).containsExactly("room");
    assertThat(stored.get(2).topics().iterator().next())
        .isSameAs(stored.get(0).topics().iterator().next());
    // A set of several topics is kept as given.
    assertThat(stored.get(3).topics()).containsExactlyInAnyOrder("room", "other");
    assertThat(log.readAfter(Set.of("room"), 0, 10))
        .extracting(e -> e.event().data())
        .containsExactly("e0", "e1", "e2", "m");
  }

  @Test
  void globalByteCapBoundsTwoHundredThousandTopics() throws Exception {
    long cap = 2L << 20;
    MemoryEventLog log =
        MemoryEventLog.builder().retention(PLENTY).clock(clock).maxBytes(cap).build();
    log.listener(events -> {});
    int topics = 200_000;
    StoredEvent first = null;
    StoredEvent last = null;
    for (int i = 0; i < topics; i++) {
      StoredEvent event =
          log.append(List.of(publication("{\"n\":" + i + "}", "members/" + i))).join().get(0);
      if (first == null) {
        first = event;
      }
      last = event;
      if (i % 10_000 == 0) {
        assertThat(log.retainedBytes())
            .as("estimated bytes after %d topics", i)
            .isLessThanOrEqualTo(cap);
      }
    }

    assertThat(log.retainedBytes()).isLessThanOrEqualTo(cap);
    assertThat(log.topicCount()).as("topics the log still tracks").isLessThan(topics / 10);
    // The newest survive; the oldest were evicted and count as dropped, so resuming there resets.
    assertThat(log.readAfter(Set.of("members/" + (topics - 1)), 0, 10)).containsExactly(last);
    assertThat(log.readAfter(Set.of("members/0"), 0, 10)).isEmpty();
    assertThat(log.droppedThrough(Set.of("members/0"))).isGreaterThanOrEqualTo(first.id());
    assertThat(log.droppedThrough(Set.of("members/" + (topics - 1)))).isLessThan(last.id());
    log.close();
  }

  @Test
  void evictionByBytesReportsTheEvictedIdAsDropped() throws Exception {
    // Room for a handful of events only: the oldest go first.
    MemoryEventLog log =
        MemoryEventLog.builder().retention(PLENTY).clock(clock).maxBytes(4_000).build();
    log.listener(events -> {});
    String data = "x".repeat(400);
    List<StoredEvent> a = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      a.add(log.append(List.of(new Publication(Set.of("a"), Event.of(data)))).join().get(0));
    }

    List<StoredEvent> retained = log.readAfter(Set.of("a"), 0, 100);
    assertThat(retained).isNotEmpty().hasSizeLessThan(20);
    assertThat(retained).isEqualTo(a.subList(20 - retained.size(), 20));
    long dropped = log.droppedThrough(Set.of("a"));
    assertThat(dropped).isEqualTo(a.get(20 - retained.size() - 1).id());
    assertThat(log.readAfter(Set.of("a"), dropped, 100)).isEqualTo(retained);
    log.close();
  }

  @Test
  void idempotencyKeysCountAgainstTheCapAndTheOldestGoFirst() throws Exception {
    long cap = 256L << 10;
    MemoryEventLog log =
        MemoryEventLog.builder().retention(PLENTY).clock(clock).maxBytes(cap).build();
    log.listener(events -> {});
    int keys = 20_000;
    for (int i = 0; i < keys; i++) {
      clock.advance(Duration.ofMillis(1));
      IdempotencyKey key = new IdempotencyKey("", "k" + i, "f" + i, Duration.ofHours(24));
      log.append(List.of(publication("{}", "members/" + (i % 10))), key).join();
      if (i % 1_000 == 0) {
        assertThat(log.retainedBytes())
            .as("estimated bytes after %d keys", i)
            .isLessThanOrEqualTo(cap);
      }
    }
    assertThat(log.retainedBytes()).isLessThanOrEqualTo(cap);

    // The newest key is still remembered: a retry answers the first ids and stores nothing.
    long lastId = log.lastId();
    IdempotencyKey newest =
        new IdempotencyKey("", "k" + (keys - 1), "f" + (keys - 1), Duration.ofHours(24));
    AppendReceipt retried = log.append(List.of(publication("{}", "members/9")), newest).join();
    assertThat(retried.replayed()).isTrue();
    assertThat(retried.ids()).containsExactly(lastId);
    assertThat(log.lastId()).isEqualTo(lastId);
    // The oldest was forgotten to stay under the cap: a retry of it publishes again.
    IdempotencyKey oldest = new IdempotencyKey("", "k0", "f0", Duration.ofHours(24));
    AppendReceipt again = log.append(List.of(publication("{}", "members/0")), oldest).join();
    assertThat(again.replayed()).isFalse();
    assertThat(again.ids()).containsExactly(lastId + 1);
    log.close();
  }

  @Test
  void deviceCursorsCountAgainstTheCapAndTheOldestGoFirst() throws Exception {
    long cap = 256L << 10;
    MemoryEventLog log =
        MemoryEventLog.builder().retention(PLENTY).clock(clock).maxBytes(cap).build();
    log.listener(events -> {});
    int devices = 20_000;
    for (int i = 0; i < devices; i++) {
      clock.advance(Duration.ofMillis(1));
      log.saveCursors(java.util.Map.of(CursorKey.of("phone-" + i, Set.of("members/" + i)), 10L + i))
          .join();
    }
    assertThat(log.retainedBytes()).isLessThanOrEqualTo(cap);

    int last = devices - 1;
    assertThat(log.cursor(CursorKey.of("phone-" + last, Set.of("members/" + last))))
        .contains(10L + last);
    assertThat(log.cursor(CursorKey.of("phone-0", Set.of("members/0")))).isEmpty();
    log.close();
  }

  @Test
  void underTheCapAnOlderEventGoesBeforeANewerKey() throws Exception {
    MemoryEventLog log =
        MemoryEventLog.builder().retention(PLENTY).clock(clock).maxBytes(8_000).build();
    log.listener(events -> {});
    StoredEvent old = append(log, new Publication(Set.of("a"), Event.of("x".repeat(1_000))));
    clock.advance(Duration.ofSeconds(1));
    IdempotencyKey key = new IdempotencyKey("", "k", "f", Duration.ofHours(24));
    List<Long> keyed = log.append(List.of(publication("{}", "b")), key).join().ids();
    clock.advance(Duration.ofSeconds(1));
    for (int i = 0; i < 2; i++) {
      append(log, new Publication(Set.of("c"), Event.of("y".repeat(1_000))));
    }

    assertThat(log.retainedBytes()).isLessThanOrEqualTo(8_000);
    assertThat(log.readAfter(Set.of("a"), 0, 10)).as("the oldest event went first").isEmpty();
    assertThat(log.droppedThrough(Set.of("a"))).isGreaterThanOrEqualTo(old.id());
    AppendReceipt retried = log.append(List.of(publication("{}", "b")), key).join();
    assertThat(retried.replayed()).as("the newer key is still remembered").isTrue();
    assertThat(retried.ids()).isEqualTo(keyed);
    log.close();
  }
}
