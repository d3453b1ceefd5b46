package dev.herald.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
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
}
