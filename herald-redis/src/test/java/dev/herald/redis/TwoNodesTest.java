package dev.herald.redis;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.redis.testing.RedisTestKeys;
import dev.herald.redis.testing.TestRedis;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoredEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Two logs on one Redis, as two hub nodes: what one appends, the other announces. */
@Timeout(60)
class TwoNodesTest {
  @RegisterExtension final RedisTestKeys redis = new RedisTestKeys();
  private RedisEventLog a;
  private RedisEventLog b;
  private final Announcements heardByA = new Announcements();
  private final Announcements heardByB = new Announcements();

  @BeforeEach
  void openNodes() {
    // After the test: a closes first, then b.
    redis.closeAfter(
        () -> {
          a.close();
          b.close();
        });
    a = node();
    b = node();
    a.listener(heardByA);
    b.listener(heardByB);
  }

  private RedisEventLog node() {
    return RedisEventLog.builder()
        .uri(TestRedis.URI)
        .keyPrefix(redis.prefix())
        .retention(new Retention(10_000, Duration.ofHours(1)))
        .build();
  }

  @Test
  void appendsOnOneNodeAreAnnouncedOnTheOtherOnceInIdOrderForWatchedTopicsOnly() throws Exception {
    b.watch("x").join();
    b.watch("y").join();
    List<StoredEvent> appended = new ArrayList<>();
    List<Set<String>> targets =
        List.of(Set.of("x"), Set.of("z"), Set.of("x", "y"), Set.of("y", "z"), Set.of("z", "w"));
    for (int i = 0; i < 60; i++) {
      if (i % 7 == 3) {
        List<Publication> batch = new ArrayList<>();
        for (int j = 0; j < 3; j++) {
          batch.add(new Publication(targets.get((i + j) % targets.size()), Event.of(i + "." + j)));
        }
        appended.addAll(a.append(batch).get(10, SECONDS));
      } else {
        Publication one = new Publication(targets.get(i % targets.size()), Event.of("e" + i));
        appended.addAll(a.append(List.of(one)).get(10, SECONDS));
      }
    }
    List<StoredEvent> wanted =
        appended.stream()
            .filter(e -> e.topics().contains("x") || e.topics().contains("y"))
            .toList();
    StoredEvent last = wanted.get(wanted.size() - 1);

    heardByB.awaitId(last.id());
    // A fence after everything: once it is heard, nothing else from before can still come.
    StoredEvent fence = append(a, "x", "fence");
    heardByB.awaitId(fence.id());

    List<StoredEvent> heard = heardByB.events();
    assertThat(heard.subList(0, heard.size() - 1))
        .as("every event of a watched topic, once, in id order, fields intact")
        .containsExactlyElementsOf(wanted);
    assertThat(heardByB.concurrent()).isFalse();
    assertThat(heardByA.events()).as("A watches nothing").isEmpty();
  }

  @Test
  void unwatchingStopsAnnouncementsAndWatchesAreCounted() throws Exception {
    b.watch("x").join();
    b.watch("x").join();
    b.watch("fence").join();
    StoredEvent first = append(a, "x", "first");
    heardByB.awaitId(first.id());

    b.unwatch("x"); // still watched once
    StoredEvent second = append(a, "x", "second");
    heardByB.awaitId(second.id());

    b.unwatch("x"); // no longer watched
    StoredEvent third = append(a, "x", "third");
    StoredEvent fence = append(a, "fence", "fence");
    heardByB.awaitId(fence.id());

    assertThat(heardByB.ids()).containsExactly(first.id(), second.id(), fence.id());
    assertThat(b.readAfter(Set.of("x"), 0, 10))
        .as("unwatched events are still stored")
        .extracting(StoredEvent::id)
        .containsExactly(first.id(), second.id(), third.id());
  }

  @Test
  void eventOfSeveralWatchedTopicsIsAnnouncedOnceOnEveryNode() throws Exception {
    a.watch("p").join();
    a.watch("q").join();
    b.watch("q").join();
    b.watch("r").join();
    StoredEvent all =
        a.append(
                List.of(
                    new Publication(new LinkedHashSet<>(List.of("p", "q", "r")), Event.of("all"))))
            .get(10, SECONDS)
            .get(0);
    StoredEvent fence =
        b.append(List.of(new Publication(Set.of("q"), Event.of("fence")))).get(10, SECONDS).get(0);

    heardByA.awaitId(fence.id());
    heardByB.awaitId(fence.id());

    assertThat(heardByA.ids()).containsExactly(all.id(), fence.id());
    assertThat(heardByB.ids()).containsExactly(all.id(), fence.id());
    assertThat(heardByB.events().get(0)).isEqualTo(all);
  }

  @Test
  void localAppendCompletesOnlyAfterItsEventWasAnnouncedAcrossNodesConcurrently() throws Exception {
    a.watch("t").join();
    b.watch("t").join();
    List<StoredEvent> appended = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> violations = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<java.util.concurrent.CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      RedisEventLog node = i % 2 == 0 ? a : b;
      Announcements heard = i % 2 == 0 ? heardByA : heardByB;
      all.add(
          node.append(List.of(Publication.of("t", Event.of("e" + i))))
              .thenAccept(
                  events -> {
                    appended.addAll(events);
                    long id = events.get(0).id();
                    if (heard.ids().stream().noneMatch(x -> x == id)) {
                      violations.add("completed before announced: " + id);
                    }
                  }));
    }
    java.util.concurrent.CompletableFuture.allOf(
            all.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
        .get(20, SECONDS);
    long newest = appended.stream().mapToLong(StoredEvent::id).max().orElseThrow();
    heardByA.awaitId(newest);
    heardByB.awaitId(newest);

    assertThat(violations).isEmpty();
    List<Long> ids = appended.stream().map(StoredEvent::id).sorted().toList();
    assertThat(heardByA.ids()).isEqualTo(ids);
    assertThat(heardByB.ids()).isEqualTo(ids);
  }

  @Test
  void everyFieldSurvivesStreamsAndNotificationsUnchanged() throws Exception {
    b.watch("f").join();
    List<Event> events =
        List.of(
            Event.builder().type("price update").data("line 1\nline 2\r\nline 3\r").build(),
            Event.builder().data("").retry(Duration.ofMillis(1500)).build(),
            Event.builder().type("ünïcødé 🎉").data("{\"x\": \"😀\"}").build(),
            Event.builder().id("client-id").data("\n\n").retry(Duration.ofNanos(1)).build());
    List<StoredEvent> stored = new ArrayList<>();
    for (Event event : events) {
      stored.addAll(a.append(List.of(Publication.of("f", event))).get(10, SECONDS));
    }
    heardByB.awaitId(stored.get(stored.size() - 1).id());

    assertThat(heardByB.events()).containsExactlyElementsOf(stored);
    assertThat(b.readAfter(Set.of("f"), 0, 10)).containsExactlyElementsOf(stored);
    for (int i = 0; i < events.size(); i++) {
      assertThat(stored.get(i).event().data()).isEqualTo(events.get(i).data());
      assertThat(stored.get(i).event().retry()).isEqualTo(events.get(i).retry());
    }
  }

  private static StoredEvent append(RedisEventLog log, String topic, String data) throws Exception {
    return log.append(List.of(Publication.of(topic, Event.of(data)))).get(10, SECONDS).get(0);
  }
}
