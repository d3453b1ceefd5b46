package dev.herald.sqlite;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Paged multi-topic reads over a long history: exact, deduplicated, and served by the index. */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LargeHistoryTest {
  private static final int EVENTS = 50_000;
  private static final int PAGE = 500;

  @TempDir static Path dir;
  private SqliteEventLog log;
  private final List<StoredEvent> all = new ArrayList<>();

  /** Event i goes to topic t(i % 4), and every third one also to the next topic. */
  private static Set<String> topicsOf(int i) {
    Set<String> topics = new LinkedHashSet<>();
    topics.add("t" + i % 4);
    if (i % 3 == 0) {
      topics.add("t" + (i + 1) % 4);
    }
    return topics;
  }

  @BeforeAll
  void writeHistory() throws Exception {
    log =
        SqliteEventLog.builder()
            .path(dir.resolve("events.db"))
            .retention(new Retention(100_000, Duration.ofHours(24)))
            .build();
    log.listener(events -> {});
    for (int start = 0; start < EVENTS; start += 1000) {
      List<Publication> batch = new ArrayList<>();
      for (int i = start; i < start + 1000; i++) {
        batch.add(new Publication(topicsOf(i), Event.of("{\"n\":" + i + "}")));
      }
      all.addAll(log.append(batch).get(20, SECONDS));
    }
  }

  @AfterAll
  void close() {
    log.close();
  }

  private List<StoredEvent> expected(Set<String> topics, long afterId) {
    return all.stream()
        .filter(e -> e.id() > afterId && e.topics().stream().anyMatch(topics::contains))
        .toList();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"t0", "t1,t2", "t0,t1,t2,t3"})
  void pagesThroughEveryEventOfTheTopicsOnceInIdOrderInFullPages(String topicList) {
    Set<String> topics = Set.of(topicList.split(","));
    List<StoredEvent> expected = expected(topics, 0);

    List<StoredEvent> read = new ArrayList<>();
    long after = 0;
    for (int pages = 0; read.size() < expected.size(); pages++) {
      assertThat(pages).as("pages").isLessThan(EVENTS / PAGE * 2);
      List<StoredEvent> page = log.readAfter(topics, after, PAGE);
      assertThat(page)
          .as("every page is full but the last")
          .hasSize(Math.min(PAGE, expected.size() - read.size()));
      read.addAll(page);
      after = page.get(page.size() - 1).id();
    }

    assertThat(log.readAfter(topics, after, PAGE)).isEmpty();
    assertThat(read).containsExactlyElementsOf(expected);
  }

  @Test
  void resumesFromAnyPositionInTheMiddle() {
    Set<String> topics = Set.of("t0", "t3");
    for (int index : new int[] {0, 1, 12_345, 33_333, EVENTS - 2}) {
      long after = all.get(index).id();
      List<StoredEvent> expected = expected(topics, after);
      assertThat(log.readAfter(topics, after, PAGE))
          .containsExactlyElementsOf(expected.subList(0, Math.min(PAGE, expected.size())));
    }
  }

  @Test
  void pageQueryUsesTheTopicIdKeyAndNeverScansATable() {
    for (int topics : new int[] {1, 2, 32}) {
      String plan = log.readPlan(topics);
      assertThat(plan)
          .as("plan for %d topics:%n%s", topics, plan)
          .contains("SEARCH event_topics USING PRIMARY KEY (topic=? AND id>?)")
          .contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)")
          .doesNotContain("SCAN event_topics")
          .doesNotContain("SCAN e\n");
      if (topics > 1) {
        assertThat(plan).as("merged in id order, not sorted as a whole").contains("MERGE (UNION)");
      }
    }
  }
}
