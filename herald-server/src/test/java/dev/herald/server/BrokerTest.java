package dev.herald.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.core.Event;
import dev.herald.server.spi.EventLog;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class BrokerTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-15T10:00:00Z"));
  private final List<Broker> brokers = new ArrayList<>();

  @AfterEach
  void closeBrokers() {
    brokers.forEach(Broker::close);
  }

  private Broker broker(Broker.Builder builder) {
    Broker broker = builder.build();
    brokers.add(broker);
    return broker;
  }

  private Broker broker() {
    return broker(Broker.builder().heartbeat(Duration.ZERO));
  }

  private Broker broker(Retention retention) {
    return broker(
        Broker.builder()
            .heartbeat(Duration.ZERO)
            .log(MemoryEventLog.builder().retention(retention).clock(clock).build()));
  }

  private static StoredEvent publish(Broker broker, String data, String... topics)
      throws Exception {
    return broker
        .publish(new Publication(Set.of(topics), Event.of(data)))
        .get(10, TimeUnit.SECONDS);
  }

  private static List<Long> ids(List<StoredEvent> events) {
    return events.stream().map(StoredEvent::id).toList();
  }

  // ---------------------------------------------------------------------------------------------
  // Publish and live delivery

  @Test
  void publishCompletesWithTheStoredEventAfterLiveSubscribersHaveIt() throws Exception {
    Broker broker = broker();
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("prices"), Position.live(), sink);

    StoredEvent event = publish(broker, "{\"eur\": 1.08}", "prices");

    assertThat(event.id()).isPositive();
    assertThat(event.event().id()).hasValue(Long.toString(event.id()));
    // Completion means fanned out: no waiting needed.
    assertThat(sink.texts()).containsExactly("id: " + event.id() + "\ndata: {\"eur\": 1.08}\n\n");
  }

  @Test
  void liveSubscriptionGetsOnlyWhatIsPublishedAfterIt() throws Exception {
    Broker broker = broker();
    publish(broker, "before", "t");
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.live(), sink);
    StoredEvent after = publish(broker, "after", "t");
    publish(broker, "elsewhere", "other");

    assertThat(sink.ids()).containsExactly(after.id());
  }

  @Test
  void eventOfSeveralTopicsReachesASubscriptionOfSeveralOfThemOnce() throws Exception {
    Broker broker = broker();
    RecordingSink live = new RecordingSink();
    broker.subscribe(Set.of("a", "b", "c"), Position.live(), live);

    StoredEvent both = publish(broker, "both", "a", "b");
    StoredEvent all = publish(broker, "all", "a", "b", "c", "d");
    RecordingSink replayed = new RecordingSink();
    broker.subscribe(Set.of("a", "b"), Position.earliest(), replayed);

    assertThat(live.ids()).containsExactly(both.id(), all.id());
    assertThat(replayed.awaitIds(2, WAIT)).isTrue();
    assertThat(replayed.ids()).containsExactly(both.id(), all.id());
  }

  @Test
  void everySinkReceivesTheSameFrameArray() throws Exception {
    Broker broker = broker();
    List<RecordingSink> sinks = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      RecordingSink sink = new RecordingSink();
      sinks.add(sink);
      broker.subscribe(Set.of("t", "u" + i), Position.live(), sink);
    }
    RecordingSink replaying = new RecordingSink();

    StoredEvent event = publish(broker, "shared", "t");
    broker.subscribe(Set.of("t"), Position.earliest(), replaying);
    assertThat(replaying.awaitIds(1, WAIT)).isTrue();

    sinks.add(replaying);
    for (RecordingSink sink : sinks) {
      assertThat(sink.frames()).hasSize(1);
      assertThat(sink.frames().get(0)).isSameAs(event.frame());
    }
  }

  @Test
  void sinkIsNeverCalledOnTheSubscribingThread() throws Exception {
    Broker broker = broker();
    for (int i = 0; i < 5; i++) {
      publish(broker, "history " + i, "t");
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.earliest(), sink);
    RecordingSink reset = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.parse("not-an-id"), reset);

    assertThat(sink.awaitIds(5, WAIT)).isTrue();
    assertThat(reset.awaitIds(5, WAIT)).isTrue();
    assertThat(sink.callers()).doesNotContain(Thread.currentThread());
    assertThat(reset.callers()).doesNotContain(Thread.currentThread());
  }

  @Test
  void invalidTopicsAreRefused() {
    Broker broker = broker();
    assertThatThrownBy(() -> broker.subscribe(Set.of(), Position.live(), new RecordingSink()))
        .isInstanceOf(InvalidTopicException.class);
    assertThatThrownBy(() -> broker.subscribe(Set.of("a\nb"), Position.live(), new RecordingSink()))
        .isInstanceOf(InvalidTopicException.class);
    assertThat(broker.subscriptionCount()).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // Positions and replay

  @Test
  void earliestReplaysAllRetainedHistoryThenStreamsLive() throws Exception {
    Broker broker = broker(new Retention(3, Duration.ofHours(1)));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.earliest(), sink);
    assertThat(sink.awaitIds(3, WAIT)).isTrue();
    StoredEvent live = publish(broker, "live", "t");

    assertThat(sink.awaitIds(4, WAIT)).isTrue();
    assertThat(sink.ids())
        .containsExactly(history.get(2).id(), history.get(3).id(), history.get(4).id(), live.id());
    assertThat(sink.texts()).noneMatch(text -> text.contains("reset"));
  }

  @Test
  void afterAnIdReplaysExactlyTheRest() throws Exception {
    Broker broker = broker();
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      history.add(publish(broker, "h" + i, i % 2 == 0 ? "even" : "odd"));
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(
        Set.of("even", "odd"), Position.parse(Long.toString(history.get(5).id())), sink);

    assertThat(sink.awaitIds(4, WAIT)).isTrue();
    assertThat(sink.ids()).isEqualTo(ids(history.subList(6, 10)));
  }

  @Test
  void unknownPositionStartsWithResetThenAllRetainedHistory() throws Exception {
    Broker broker = broker();
    StoredEvent first = publish(broker, "one", "t");
    StoredEvent second = publish(broker, "two", "t");
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.parse("bad \"id\"\\"), sink);

    assertThat(sink.awaitIds(2, WAIT)).isTrue();
    assertThat(sink.texts().get(0))
        .isEqualTo(
            "event: reset\ndata: {\"lastEventId\":\"bad \\\"id\\\"\\\\\",\"reason\":\"unknown\"}\n\n");
    assertThat(sink.ids()).containsExactly(first.id(), second.id());
  }

  @Test
  void positionAboveTheNewestIdIsUnknown() throws Exception {
    Broker broker = broker();
    StoredEvent only = publish(broker, "one", "t");
    RecordingSink sink = new RecordingSink();
    String ahead = Long.toString(only.id() + 1);
    broker.subscribe(Set.of("t"), Position.parse(ahead), sink);

    assertThat(sink.awaitIds(1, WAIT)).isTrue();
    assertThat(sink.texts())
        .containsExactly(
            "event: reset\ndata: {\"lastEventId\":\"" + ahead + "\",\"reason\":\"unknown\"}\n\n",
            "id: " + only.id() + "\ndata: one\n\n");
  }

  @Test
  void positionBeforeDroppedEventsIsExpired() throws Exception {
    Broker broker = broker(new Retention(2, Duration.ofHours(1)));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    String position = Long.toString(history.get(1).id());
    broker.subscribe(Set.of("t"), Position.parse(position), sink);

    assertThat(sink.awaitIds(2, WAIT)).isTrue();
    assertThat(sink.texts().get(0))
        .isEqualTo(
            "event: reset\ndata: {\"lastEventId\":\""
                + position
                + "\",\"reason\":\"expired\"}\n\n");
    assertThat(sink.ids()).isEqualTo(ids(history.subList(3, 5)));
  }

  @Test
  void resumingExactlyAtTheNewestDroppedIdLosesNothingAndGetsNoReset() throws Exception {
    Broker broker = broker(new Retention(2, Duration.ofHours(1)));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.after(history.get(2).id()), sink);

    assertThat(sink.awaitIds(2, WAIT)).isTrue();
    assertThat(sink.texts()).noneMatch(text -> text.contains("reset"));
    assertThat(sink.ids()).isEqualTo(ids(history.subList(3, 5)));
  }

  @Test
  void positionOlderThanRetentionByAgeIsExpired() throws Exception {
    Broker broker = broker(new Retention(100, Duration.ofMinutes(1)));
    StoredEvent old = publish(broker, "old", "t");
    StoredEvent older = publish(broker, "older", "t");
    clock.advance(Duration.ofSeconds(45));
    StoredEvent recent = publish(broker, "recent", "t");
    clock.advance(Duration.ofSeconds(30));

    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.after(old.id()), sink);

    assertThat(sink.awaitIds(1, WAIT)).isTrue();
    assertThat(sink.texts().get(0)).contains("\"reason\":\"expired\"");
    assertThat(sink.ids()).containsExactly(recent.id());
    assertThat(older.id()).isLessThan(recent.id());
  }

  @Test
  void longReplayReadsTheLogInPages() throws Exception {
    List<Integer> limits = new CopyOnWriteArrayList<>();
    EventLog memory = MemoryEventLog.builder().build();
    EventLog counting =
        new ForwardingEventLog(memory) {
          @Override
          public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
            limits.add(limit);
            return super.readAfter(topics, afterId, limit);
          }
        };
    Broker broker =
        broker(Broker.builder().heartbeat(Duration.ZERO).log(counting).replayPageSize(10));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 95; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.earliest(), sink);

    assertThat(sink.awaitIds(95, WAIT)).isTrue();
    assertThat(sink.ids()).isEqualTo(ids(history));
    assertThat(limits).hasSize(10).containsOnly(10);
  }

  @Test
  void replayPausesWhileTheSinkIsNotWritable() throws Exception {
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).replayPageSize(5));
    for (int i = 0; i < 20; i++) {
      publish(broker, "h" + i, "t");
    }
    RecordingSink sink = new RecordingSink();
    sink.writable(false);
    broker.subscribe(Set.of("t"), Position.earliest(), sink);
    StoredEvent live = publish(broker, "live", "t");

    // Paused: nothing can be written until the sink says it is writable.
    assertThat(sink.await(s -> !s.ids().isEmpty(), Duration.ofMillis(300))).isFalse();
    sink.writable(true);

    assertThat(sink.awaitIds(21, WAIT)).isTrue();
    assertThat(sink.ids().get(20)).isEqualTo(live.id());
    assertThat(sink.closes()).isEmpty();
  }

  @Test
  void replayPausesInsideAPageOnceTheSinkIsNotWritable() throws Exception {
    // One page holds the whole history: the pause must come between its events, not after it.
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).replayPageSize(500));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    sink.pauseAfter(3);
    broker.subscribe(Set.of("t"), Position.earliest(), sink);
    StoredEvent live = publish(broker, "live", "t");

    assertThat(sink.awaitIds(3, WAIT)).isTrue();
    assertThat(sink.await(s -> s.ids().size() > 3, Duration.ofMillis(300)))
        .as("nothing more while the sink is not writable")
        .isFalse();
    sink.pauseAfter(Integer.MAX_VALUE);
    sink.writable(true);

    assertThat(sink.awaitIds(21, WAIT)).isTrue();
    List<Long> expected = new ArrayList<>(ids(history));
    expected.add(live.id());
    assertThat(sink.ids()).isEqualTo(expected);
    assertThat(sink.closes()).isEmpty();
  }

  @Test
  void oldDropsInOneTopicDoNotStopAReplayOfSeveral() throws Exception {
    Broker broker =
        broker(
            Broker.builder()
                .heartbeat(Duration.ZERO)
                .replayPageSize(1)
                .log(
                    MemoryEventLog.builder()
                        .retention(new Retention(2, Duration.ofHours(1)))
                        .clock(clock)
                        .build()));
    StoredEvent b1 = publish(broker, "b1", "b");
    StoredEvent b2 = publish(broker, "b2", "b");
    List<StoredEvent> a = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      a.add(publish(broker, "a" + i, "a"));
    }
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("a", "b"), Position.earliest(), sink);

    assertThat(sink.awaitIds(4, WAIT)).isTrue();
    assertThat(sink.ids()).containsExactly(b1.id(), b2.id(), a.get(3).id(), a.get(4).id());
    assertThat(sink.closes()).isEmpty();
  }

  @Test
  void replayOvertakenByRetentionSaysResetAtTheGapThenGoesOnFromTheOldestRetained()
      throws Exception {
    Broker broker =
        broker(
            Broker.builder()
                .heartbeat(Duration.ZERO)
                .replayPageSize(1)
                .log(
                    MemoryEventLog.builder()
                        .retention(new Retention(3, Duration.ofHours(1)))
                        .clock(clock)
                        .build()));
    List<StoredEvent> history = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      history.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    sink.pauseAfter(1);
    broker.subscribe(Set.of("t"), Position.earliest(), sink);
    assertThat(sink.awaitIds(1, WAIT)).isTrue();
    // While the replay waits, retention drops h1, which it has not sent yet.
    StoredEvent l0 = publish(broker, "l0", "t");
    StoredEvent l1 = publish(broker, "l1", "t");
    sink.pauseAfter(Integer.MAX_VALUE);
    sink.writable(true);

    assertThat(sink.awaitIds(4, WAIT)).isTrue();
    assertThat(sink.texts())
        .containsExactly(
            new String(history.get(0).frame(), UTF_8),
            "event: reset\ndata: {\"lastEventId\":\""
                + history.get(0).id()
                + "\",\"reason\":\"expired\"}\n\n",
            new String(history.get(2).frame(), UTF_8),
            new String(l0.frame(), UTF_8),
            new String(l1.frame(), UTF_8));
    assertThat(sink.closes()).isEmpty();
    // Live from here: the next event comes straight through.
    StoredEvent l2 = publish(broker, "l2", "t");
    assertThat(sink.awaitIds(5, WAIT)).isTrue();
    assertThat(sink.ids()).endsWith(l2.id());
  }

  @Test
  void liveEventsOutgrowingTheReplayBufferAreReadFromTheLogInsteadOfCuttingTheStream()
      throws Exception {
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).maxBufferedEvents(10));
    List<StoredEvent> published = new ArrayList<>();
    published.add(publish(broker, "history", "t"));
    RecordingSink stalled = new RecordingSink();
    stalled.writable(false);
    RecordingSink healthy = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.earliest(), stalled);
    broker.subscribe(Set.of("t"), Position.live(), healthy);

    for (int i = 0; i < 30; i++) {
      published.add(publish(broker, "live " + i, "t"));
    }
    assertThat(healthy.ids()).isEqualTo(ids(published.subList(1, 31)));
    stalled.writable(true);

    assertThat(stalled.awaitIds(31, WAIT)).isTrue();
    assertThat(stalled.ids()).isEqualTo(ids(published));
    assertThat(stalled.closes()).isEmpty();
    StoredEvent after = publish(broker, "after", "t");
    assertThat(stalled.awaitIds(32, WAIT)).isTrue();
    assertThat(stalled.ids()).endsWith(after.id());
    assertThat(broker.subscriptionCount()).isEqualTo(2);
  }

  @Test
  void replayThatOutgrowsItsBufferManyTimesOverStillGetsEveryEventOnceInOrder() throws Exception {
    Broker broker =
        broker(Broker.builder().heartbeat(Duration.ZERO).replayPageSize(3).maxBufferedEvents(2));
    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      published.add(publish(broker, "h" + i, "t", "u"));
    }
    RecordingSink sink = new RecordingSink();
    sink.pauseAfter(5);
    broker.subscribe(Set.of("t", "u"), Position.after(published.get(2).id()), sink);
    for (int round = 0; round < 5; round++) {
      assertThat(sink.awaitIds(5 * round + 5, WAIT)).isTrue();
      for (int i = 0; i < 7; i++) {
        published.add(publish(broker, "l" + round + "." + i, i % 2 == 0 ? "t" : "u"));
      }
      sink.pauseAfter(5 * round + 10);
      sink.writable(true);
    }
    sink.pauseAfter(Integer.MAX_VALUE);
    sink.writable(true);

    assertThat(sink.awaitIds(published.size() - 3, WAIT)).isTrue();
    assertThat(sink.ids()).isEqualTo(ids(published.subList(3, published.size())));
    assertThat(sink.texts()).noneMatch(text -> text.contains("reset"));
    assertThat(sink.closes()).isEmpty();
  }

  @Test
  void replayWaitsThroughAStoreOutageAndThenCompletesExactly() throws Exception {
    java.util.concurrent.atomic.AtomicInteger failures =
        new java.util.concurrent.atomic.AtomicInteger(3);
    java.util.concurrent.CountDownLatch failed = new java.util.concurrent.CountDownLatch(3);
    EventLog flaky =
        new ForwardingEventLog(MemoryEventLog.builder().build()) {
          @Override
          public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
            if (failures.getAndDecrement() > 0) {
              failed.countDown();
              throw new StoreUnavailableException("store paused");
            }
            return super.readAfter(topics, afterId, limit);
          }
        };
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).log(flaky));
    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      published.add(publish(broker, "h" + i, "t"));
    }
    RecordingSink sink = new RecordingSink();
    Subscription subscription = broker.subscribe(Set.of("t"), Position.earliest(), sink);
    assertThat(failed.await(10, TimeUnit.SECONDS)).isTrue();
    published.add(publish(broker, "during", "t"));

    assertThat(sink.awaitIds(6, WAIT)).isTrue();
    assertThat(sink.ids()).isEqualTo(ids(published));
    assertThat(subscription.isOpen()).isTrue();
    assertThat(sink.closes()).isEmpty();
  }

  @Test
  void replayThatFailsForAnotherReasonClosesWithError() throws Exception {
    EventLog failing =
        new ForwardingEventLog(MemoryEventLog.builder().build()) {
          @Override
          public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
            throw new IllegalStateException("corrupt page");
          }
        };
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).log(failing));
    publish(broker, "history", "t");
    RecordingSink sink = new RecordingSink();
    Subscription subscription = broker.subscribe(Set.of("t"), Position.earliest(), sink);

    assertThat(sink.awaitClosed(WAIT)).isTrue();
    assertThat(sink.closes()).containsExactly(CloseReason.ERROR);
    assertThat(subscription.isOpen()).isFalse();
    assertThat(broker.subscriptionCount()).isZero();
  }

  @Test
  void liveSubscriptionOpensWhenTheLogCannotTellItsNewestIdAndGetsEveryLaterEvent()
      throws Exception {
    java.util.concurrent.atomic.AtomicBoolean down =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    EventLog log =
        new ForwardingEventLog(MemoryEventLog.builder().build()) {
          @Override
          public long lastId() {
            if (down.get()) {
              throw new StoreUnavailableException("newest id unknown right now");
            }
            return super.lastId();
          }
        };
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).log(log));
    publish(broker, "before", "t");
    RecordingSink sink = new RecordingSink();
    // Starts from 0 then: it gets what is announced from its registration on, in order.
    Subscription subscription = broker.subscribe(Set.of("t"), Position.live(), sink);
    down.set(false);
    List<StoredEvent> later = List.of(publish(broker, "a", "t"), publish(broker, "b", "t"));

    assertThat(subscription.isOpen()).isTrue();
    assertThat(sink.ids()).isEqualTo(ids(later));
    assertThat(sink.closes()).isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Slow consumers and failures

  @Test
  void slowConsumerIsClosedAndTheOthersGetEverything() throws Exception {
    Broker broker = broker();
    RecordingSink slow = new RecordingSink(3);
    List<RecordingSink> fast = new ArrayList<>();
    broker.subscribe(Set.of("t"), Position.live(), slow);
    for (int i = 0; i < 5; i++) {
      RecordingSink sink = new RecordingSink();
      fast.add(sink);
      broker.subscribe(Set.of("t"), Position.live(), sink);
    }

    List<StoredEvent> published = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      published.add(publish(broker, "e" + i, "t"));
    }

    assertThat(slow.closes()).containsExactly(CloseReason.SLOW_CONSUMER);
    assertThat(slow.ids())
        .as("never thinned: cut off, not skipped")
        .isEqualTo(ids(published.subList(0, 4)));
    for (RecordingSink sink : fast) {
      assertThat(sink.ids()).isEqualTo(ids(published));
      assertThat(sink.closes()).isEmpty();
    }
    assertThat(broker.subscriptionCount()).isEqualTo(5);
  }

  @Test
  void sinkThatThrowsIsClosedAsWriteFailed() throws Exception {
    Broker broker = broker();
    AtomicInteger closedCalls = new AtomicInteger();
    List<CloseReason> reasons = new CopyOnWriteArrayList<>();
    broker.subscribe(
        Set.of("t"),
        Position.live(),
        new Sink() {
          @Override
          public boolean send(byte[] frame) {
            throw new IllegalStateException("connection reset");
          }

          @Override
          public void closed(CloseReason reason) {
            closedCalls.incrementAndGet();
            reasons.add(reason);
          }
        });
    RecordingSink other = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.live(), other);

    StoredEvent first = publish(broker, "one", "t");
    StoredEvent second = publish(broker, "two", "t");

    assertThat(reasons).containsExactly(CloseReason.WRITE_FAILED);
    assertThat(closedCalls).hasValue(1);
    assertThat(other.ids()).containsExactly(first.id(), second.id());
  }

  // ---------------------------------------------------------------------------------------------
  // Heartbeats

  @Test
  void idleStreamsGetHeartbeatsAndBusyOnesDoNot() throws Exception {
    Broker broker = broker(Broker.builder().heartbeat(Duration.ofMillis(300)));
    RecordingSink idle = new RecordingSink();
    RecordingSink busy = new RecordingSink();
    broker.subscribe(Set.of("quiet"), Position.live(), idle);
    broker.subscribe(Set.of("busy"), Position.live(), busy);

    // Keep "busy" busy (an event every few milliseconds) until "quiet" has had three heartbeats.
    int published = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (idle.heartbeats() < 3 && System.nanoTime() < deadline) {
      publish(broker, "tick", "busy");
      published++;
      // Pacing, not synchronisation: an event every few milliseconds, far below the interval.
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }

    assertThat(idle.heartbeats()).isGreaterThanOrEqualTo(3);
    assertThat(idle.frames())
        .allSatisfy(frame -> assertThat(frame).isEqualTo(":\n".getBytes(UTF_8)));
    assertThat(busy.heartbeats()).isZero();
    assertThat(busy.ids()).hasSize(published);
  }

  @Test
  void heartbeatsOfStreamsThatFallIdleTogetherAreSpreadOverTheInterval() throws Exception {
    // An hour: the scheduler never ticks during the test, the test ticks by hand.
    Broker broker = broker(Broker.builder().heartbeat(Duration.ofHours(1)));
    int slots = Heartbeats.MAX_SLOTS;
    List<RecordingSink> sinks = new ArrayList<>();
    for (int i = 0; i < 2 * slots; i++) {
      RecordingSink sink = new RecordingSink();
      broker.subscribe(Set.of("idle-" + i), Position.live(), sink);
      sinks.add(sink);
    }
    // Half an interval: every stream is visited once and is idle for one visit.
    for (int tick = 0; tick < slots; tick++) {
      broker.heartbeatTick();
    }
    assertThat(sinks.stream().mapToInt(RecordingSink::heartbeats).sum()).isZero();
    // The next half: each tick writes the heartbeats of one slot only: two streams.
    for (int tick = 1; tick <= slots; tick++) {
      broker.heartbeatTick();
      assertThat(sinks.stream().mapToInt(RecordingSink::heartbeats).sum())
          .as("heartbeats after tick %d of the second half", tick)
          .isEqualTo(2 * tick);
    }
    assertThat(sinks).allSatisfy(sink -> assertThat(sink.heartbeats()).isEqualTo(1));
  }

  @Test
  void threadCountDoesNotGrowWithSubscriptions() throws Exception {
    Broker broker = broker(Broker.builder().heartbeat(Duration.ofMillis(50)).replayPageSize(2));
    for (int i = 0; i < 5; i++) {
      publish(broker, "h" + i, "t" + i);
    }
    int before = ManagementFactory.getThreadMXBean().getThreadCount();
    List<RecordingSink> sinks = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      RecordingSink sink = new RecordingSink();
      sinks.add(sink);
      broker.subscribe(
          Set.of("t" + (i % 5)), i % 2 == 0 ? Position.earliest() : Position.live(), sink);
    }
    for (int i = 0; i < 2000; i += 2) {
      assertThat(sinks.get(i).awaitIds(1, WAIT)).isTrue();
    }
    // Every stream is idle now: each must get a heartbeat, from the one scheduler thread.
    for (RecordingSink sink : sinks) {
      assertThat(sink.await(s -> s.heartbeats() > 0, WAIT)).isTrue();
    }
    int after = ManagementFactory.getThreadMXBean().getThreadCount();

    Set<String> heartbeatThreads = ConcurrentHashMap.newKeySet();
    for (RecordingSink sink : sinks) {
      List<byte[]> frames = sink.frames();
      List<Thread> callers = sink.callers();
      for (int i = 0; i < frames.size(); i++) {
        if (frames.get(i).length == 2) {
          heartbeatThreads.add(callers.get(i).getName());
        }
      }
    }
    assertThat(heartbeatThreads).hasSize(1);
    // The replay pool is bounded (at most 8 threads), whatever the number of subscriptions.
    assertThat(after - before).isLessThanOrEqualTo(9);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle and metrics

  @Test
  void closingTheBrokerEndsEverySubscriptionWithShutdownOnce() throws Exception {
    Broker broker = broker();
    List<RecordingSink> sinks = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      RecordingSink sink = new RecordingSink();
      sinks.add(sink);
      broker.subscribe(Set.of("t"), i % 2 == 0 ? Position.live() : Position.earliest(), sink);
    }
    RecordingSink early = new RecordingSink();
    broker.subscribe(Set.of("t"), Position.live(), early).close();

    broker.close();
    broker.close();

    for (RecordingSink sink : sinks) {
      assertThat(sink.closes()).containsExactly(CloseReason.SHUTDOWN);
      assertThat(sink.violations()).isEmpty();
    }
    assertThat(early.closes())
        .as("closed before: not again")
        .containsExactly(CloseReason.CLIENT_CLOSED);
    assertThat(broker.subscriptionCount()).isZero();
    assertThatThrownBy(() -> broker.subscribe(Set.of("t"), Position.live(), new RecordingSink()))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> broker.publish(Publication.of("t", Event.of("late"))).get())
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(StoreUnavailableException.class);
    assertThat(broker.log().isAvailable()).as("the log is closed with the broker").isFalse();
  }

  @Test
  void closingASubscriptionIsIdempotentAndReleasesIt() throws Exception {
    Broker broker = broker();
    RecordingSink sink = new RecordingSink();
    Subscription subscription = broker.subscribe(Set.of("a", "b"), Position.live(), sink);
    assertThat(broker.subscriptionCount()).isEqualTo(1);

    subscription.close();
    subscription.close(CloseReason.ERROR);
    publish(broker, "after", "a");

    assertThat(subscription.isOpen()).isFalse();
    assertThat(sink.closes()).containsExactly(CloseReason.CLIENT_CLOSED);
    assertThat(sink.ids()).isEmpty();
    assertThat(broker.subscriptionCount()).isZero();
  }

  @Test
  void closeIsExactlyOnceWhenClientCloseShutdownAndSlowCloseRace() throws Exception {
    long seed = System.nanoTime();
    java.util.Random random = new java.util.Random(seed);
    for (int round = 0; round < 150; round++) {
      Broker broker = Broker.builder().heartbeat(Duration.ofMillis(1)).replayPageSize(3).build();
      for (int i = 0; i < 10; i++) {
        publish(broker, "h" + i, "t");
      }
      List<RecordingSink> sinks = new ArrayList<>();
      List<Subscription> subscriptions = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        RecordingSink sink = new RecordingSink(random.nextInt(20));
        sinks.add(sink);
        subscriptions.add(
            broker.subscribe(
                Set.of("t"), random.nextBoolean() ? Position.earliest() : Position.live(), sink));
      }
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      Thread publisher =
          new Thread(
              () -> {
                awaitQuietly(go);
                for (int i = 0; i < 30; i++) {
                  broker.publish(Publication.of("t", Event.of("e" + i)));
                }
              });
      Thread closer =
          new Thread(
              () -> {
                awaitQuietly(go);
                for (Subscription subscription : subscriptions) {
                  subscription.close();
                }
              });
      Thread shutdown =
          new Thread(
              () -> {
                awaitQuietly(go);
                broker.close();
              });
      publisher.start();
      closer.start();
      shutdown.start();
      go.countDown();
      publisher.join(10_000);
      closer.join(10_000);
      shutdown.join(10_000);
      assertThat(shutdown.isAlive()).isFalse();

      for (RecordingSink sink : sinks) {
        assertThat(sink.closes()).as("seed %d round %d", seed, round).hasSize(1);
        assertThat(sink.violations()).as("seed %d round %d", seed, round).isEmpty();
      }
      assertThat(broker.subscriptionCount()).as("seed %d round %d", seed, round).isZero();
    }
  }

  @Test
  void listenerHearsPublishesDeliveriesReplaysAndLifecycle() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger delivered = new AtomicInteger();
    AtomicInteger replayed = new AtomicInteger();
    List<Integer> reached = new CopyOnWriteArrayList<>();
    Map<CloseReason, AtomicInteger> closed = new ConcurrentHashMap<>();
    BrokerListener listener =
        new BrokerListener() {
          @Override
          public void published(StoredEvent event, int reachedCount) {
            reached.add(reachedCount);
          }

          @Override
          public void delivered(int count) {
            delivered.addAndGet(count);
          }

          @Override
          public void replayed(int count) {
            replayed.addAndGet(count);
          }

          @Override
          public void subscriptionOpened() {
            opened.incrementAndGet();
          }

          @Override
          public void subscriptionClosed(CloseReason reason) {
            closed.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
          }
        };
    Broker broker = broker(Broker.builder().heartbeat(Duration.ZERO).listener(listener));
    publish(broker, "h1", "a");
    publish(broker, "h2", "b");
    RecordingSink replaying = new RecordingSink();
    broker.subscribe(Set.of("a", "b"), Position.earliest(), replaying);
    assertThat(replaying.awaitIds(2, WAIT)).isTrue();
    Subscription one = broker.subscribe(Set.of("a"), Position.live(), new RecordingSink());
    broker.subscribe(Set.of("a", "b"), Position.live(), new RecordingSink(0));

    publish(broker, "both", "a", "b");
    one.close();

    // The slow one refused the frame: closed, not reached. Replay runs on a broker thread, so its
    // counts may land just after its frames do.
    assertThat(reached).containsExactly(0, 0, 2);
    assertThat(Conditions.eventually(() -> delivered.get() == 2 && replayed.get() == 2)).isTrue();
    assertThat(opened).hasValue(3);
    assertThat(closed.get(CloseReason.CLIENT_CLOSED)).hasValue(1);
    assertThat(closed.get(CloseReason.SLOW_CONSUMER)).hasValue(1);
    assertThat(closed).hasSize(2);
  }

  @Test
  void idsAreStrictlyIncreasingAcrossTopicsAndBatchesKeepOrder() throws Exception {
    Broker broker = broker();
    List<StoredEvent> batch =
        broker
            .publishAll(
                List.of(
                    Publication.of("a", Event.of("1")),
                    Publication.of("b", Event.of("2")),
                    Publication.of("a", Event.of("3"))))
            .get(10, TimeUnit.SECONDS);
    RecordingSink sink = new RecordingSink();
    broker.subscribe(Set.of("a", "b"), Position.earliest(), sink);

    assertThat(sink.awaitIds(3, WAIT)).isTrue();
    assertThat(ids(batch)).isSorted().doesNotHaveDuplicates();
    assertThat(sink.ids()).isEqualTo(ids(batch));
  }

  private static void awaitQuietly(java.util.concurrent.CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
