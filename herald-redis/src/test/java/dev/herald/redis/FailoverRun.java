package dev.herald.redis;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.Position;
import dev.herald.server.Publication;
import dev.herald.server.RecordingSink;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;

/**
 * One Redis failover under a steady publisher, shared by the Sentinel and the Cluster failover
 * tests: node A publishes single events to one topic, one after another, through its broker and
 * {@link RedisEventLog}; node B (another log on the same store) holds a history and a live-only
 * subscription from before the first publish. The test then stalls replication, so what the master
 * acknowledges from then on exists only on the master; kills the master (SIGKILL); waits until the
 * replica is promoted and the publisher published on it. Afterwards node B opens three more
 * subscriptions: after the last event acknowledged before the stall, after the last one
 * acknowledged before the kill, and all retained history.
 *
 * <p>What it checks, for every subscription ({@link #check}): ids strictly increasing between
 * resets; no event under an acknowledged event's id with other data (an id given twice); and every
 * acknowledged event after the subscription's position, once and in order, unless the stream said
 * {@code reset}, after which every acknowledged event the store still holds must follow. That is
 * the promise: no silent gap. What it measures: how many acknowledged events the new master lacks.
 */
final class FailoverRun {
  /** What a test does to its Redis deployment. */
  interface Failover {
    /** Stops replication from the deployment's master to its replica for good. */
    void stallReplication() throws Exception;

    /** Kills the master (SIGKILL) and lets the stalled replica run again. */
    void killMaster() throws Exception;

    /** Waits (bounded) until the replica is the master. */
    void awaitPromoted() throws Exception;

    /**
     * Starts the killed master again, as an operator would, and waits (bounded) until it is a
     * replica of the new master: with {@code minReplicas(1)} nothing is acknowledged before. A test
     * without {@code minReplicas} may leave it out.
     */
    void rejoin() throws Exception;
  }

  /** An event the publisher's broker acknowledged. */
  record Acked(long id, String data, String phase) {}

  /** What one failover came to. */
  record Outcome(
      int acknowledged,
      List<Acked> lost,
      int acknowledgedWhileStalled,
      int failedPublishes,
      long failoverMillis,
      Map<String, Integer> resets,
      int failedButStored,
      List<String> refusedButStored) {
    String summary() {
      return String.format(
          "%d acknowledged (%d while replication was stalled), %d lost %s; %d publishes failed"
              + " (%d of them stored after all), %d ms from the kill to the first acknowledged"
              + " publish; resets per subscription %s",
          acknowledged,
          acknowledgedWhileStalled,
          lost.size(),
          lost.isEmpty()
              ? ""
              : "(ids " + lost.get(0).id() + ".." + lost.get(lost.size() - 1).id() + ")",
          failedPublishes,
          failedButStored,
          failoverMillis,
          resets);
    }
  }

  private static final String TOPIC = "failover";
  private static final int BEFORE = 150;
  private static final int WHILE_STALLED = 25;
  private static final int AFTER = 150;

  private final String uri;
  private final String prefix;
  private final UnaryOperator<RedisEventLog.Builder> settings;
  private final List<Acked> acked = new CopyOnWriteArrayList<>();
  private final AtomicInteger attempts = new AtomicInteger();
  private final AtomicInteger failures = new AtomicInteger();

  /** Publishes that failed, by data: the exception's type and message, and the phase. */
  private final Map<String, String> failed = new java.util.concurrent.ConcurrentHashMap<>();

  private volatile String phase = "before";

  /**
   * @param settings what both nodes' logs are built with beyond the URI and prefix
   */
  FailoverRun(String uri, String prefix, UnaryOperator<RedisEventLog.Builder> settings) {
    this.uri = uri;
    this.prefix = prefix;
    this.settings = settings;
  }

  Outcome run(Failover failover) throws Exception {
    try (Node a = node();
        Node b = node()) {
      RecordingSink history = new RecordingSink();
      RecordingSink live = new RecordingSink();
      Subscription historySub = b.broker.subscribe(Set.of(TOPIC), Position.earliest(), history);
      Subscription liveSub = b.broker.subscribe(Set.of(TOPIC), Position.live(), live);
      AtomicBoolean stop = new AtomicBoolean();
      Thread publisher = new Thread(() -> publish(a.broker, stop), "failover-publisher");
      publisher.start();
      try {
        awaitAcked(BEFORE, Duration.ofSeconds(20));
        long beforeStall = lastAcked();
        failover.stallReplication();
        // Publishes begun from now on reach the master only.
        phase = "while stalled";
        int attemptsBefore = attempts.get();
        // Acknowledged from now on only by the master (without WAIT); with WAIT the publishes
        // wait for the stalled replica, so the phase ends after a bounded time instead.
        long stallEnds = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (attempts.get() - attemptsBefore < WHILE_STALLED && System.nanoTime() < stallEnds) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5)); // polling a count, bounded
        }
        long beforeKill = lastAcked();
        phase = "during failover";
        long killed = System.nanoTime();
        failover.killMaster();
        failover.awaitPromoted();
        failover.rejoin();
        int ackedBeforeFailover = acked.size();
        awaitAcked(ackedBeforeFailover + 1, Duration.ofSeconds(30));
        long failoverMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        phase = "after";
        awaitAcked(ackedBeforeFailover + AFTER, Duration.ofSeconds(20));
        stop.set(true);
        publisher.join(TimeUnit.SECONDS.toMillis(15));
        assertThat(publisher.isAlive()).as("the publisher stopped").isFalse();

        long last = lastAcked();
        Map<String, RecordingSink> sinks = new LinkedHashMap<>();
        sinks.put("history from before the first publish", history);
        sinks.put("live from before the first publish", live);
        List<Subscription> resumed = new ArrayList<>();
        Map<String, Long> positions = new LinkedHashMap<>();
        positions.put("after the last id acknowledged before the stall", beforeStall);
        positions.put("after the last id acknowledged before the kill", beforeKill);
        for (Map.Entry<String, Long> position : positions.entrySet()) {
          RecordingSink sink = new RecordingSink();
          resumed.add(b.broker.subscribe(Set.of(TOPIC), Position.after(position.getValue()), sink));
          sinks.put(position.getKey(), sink);
        }
        RecordingSink earliest = new RecordingSink();
        resumed.add(b.broker.subscribe(Set.of(TOPIC), Position.earliest(), earliest));
        sinks.put("all retained history, after the failover", earliest);
        // Bounded: a subscription that misses the last event shows in the checks below.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (RecordingSink sink : sinks.values()) {
          long left = Math.max(1, deadline - System.nanoTime());
          sink.await(s -> s.lastEventId() >= last, Duration.ofNanos(left));
        }

        List<StoredEvent> stored = readAll(b.log);
        Map<String, Long> storedIds = new HashMap<>();
        for (StoredEvent event : stored) {
          storedIds.put(event.event().data(), event.id());
        }
        List<Acked> lost = new ArrayList<>();
        for (Acked event : acked) {
          Long id = storedIds.get(event.data());
          if (id == null) {
            lost.add(event);
          } else {
            assertThat(id).as("the stored id of %s", event).isEqualTo(event.id());
          }
        }
        Map<String, Long> ackedIds = new HashMap<>();
        acked.forEach(event -> ackedIds.put(event.data(), event.id()));
        Map<Long, String> ackedData = new HashMap<>();
        acked.forEach(event -> ackedData.put(event.id(), event.data()));
        for (StoredEvent event : stored) {
          String data = ackedData.get(event.id());
          assertThat(data == null || data.equals(event.event().data()))
              .as("id %d given twice: %s acknowledged, %s stored", event.id(), data, event)
              .isTrue();
        }

        // StoreUnavailableException promises that nothing was stored.
        List<String> refusedButStored = new ArrayList<>();
        failed.forEach(
            (data, failure) -> {
              if (storedIds.containsKey(data)
                  && failure.contains(StoreUnavailableException.class.getName())) {
                refusedButStored.add(data + " (id " + storedIds.get(data) + ", " + failure + ")");
              }
            });

        Map<String, Integer> resets = new LinkedHashMap<>();
        List<String> violations = new ArrayList<>();
        for (Map.Entry<String, RecordingSink> entry : sinks.entrySet()) {
          String name = entry.getKey();
          // -1: all retained history, opened after the failover, owes what the store holds.
          long after = entry.getValue() == earliest ? -1 : positions.getOrDefault(name, 0L);
          resets.put(
              name,
              check(
                  name, entry.getValue(), after, acked, storedIds.keySet(), ackedData, violations));
        }
        historySub.close();
        liveSub.close();
        resumed.forEach(Subscription::close);
        Outcome outcome =
            new Outcome(
                acked.size(),
                lost,
                (int) acked.stream().filter(e -> e.phase().equals("while stalled")).count(),
                failures.get(),
                failoverMillis,
                resets,
                storedAfterFailure(storedIds),
                refusedButStored);
        assertThat(violations).as("silent gaps or repeats; %s", outcome.summary()).isEmpty();
        return outcome;
      } finally {
        stop.set(true);
        publisher.join(TimeUnit.SECONDS.toMillis(15));
      }
    }
  }

  private Node node() {
    RedisEventLog log =
        settings
            .apply(
                RedisEventLog.builder()
                    .uri(uri)
                    .keyPrefix(prefix)
                    .retention(new Retention(100_000, Duration.ofHours(1))))
            .build();
    return new Node(log);
  }

  /** Publishes one event at a time until told to stop; failures are counted and retried on. */
  private void publish(Broker broker, AtomicBoolean stop) {
    for (int n = 0; !stop.get(); n++) {
      String data = "e" + n;
      String during = phase;
      attempts.incrementAndGet();
      try {
        StoredEvent event =
            broker
                .publish(new Publication(Set.of(TOPIC), Event.of(data)))
                .get(30, TimeUnit.SECONDS);
        acked.add(new Acked(event.id(), data, during));
        // Steady, not flat out: a few hundred a second leave the machine to the failover.
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      } catch (Exception e) {
        failures.incrementAndGet();
        Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
        failed.put(data, during + ": " + cause);
        // Redis is failing over: try the next event a little later rather than spin.
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
    }
  }

  /** Everything the store holds now, in pages (a busy machine may answer slowly). */
  private static List<StoredEvent> readAll(RedisEventLog log) {
    List<StoredEvent> all = new ArrayList<>();
    while (true) {
      List<StoredEvent> page =
          log.readAfter(Set.of(TOPIC), all.isEmpty() ? 0 : all.get(all.size() - 1).id(), 200);
      all.addAll(page);
      if (page.size() < 200) {
        return all;
      }
    }
  }

  /** How many failed publishes the store holds (outcome unknown, or unconfirmed by replicas). */
  private int storedAfterFailure(Map<String, Long> storedIds) {
    return (int) failed.keySet().stream().filter(storedIds::containsKey).count();
  }

  private void awaitAcked(int count, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (acked.size() < count) {
      assertThat(System.nanoTime())
          .as("%d publishes acknowledged (have %d)", count, acked.size())
          .isLessThan(deadline);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5)); // polling a count, bounded
    }
  }

  private long lastAcked() {
    return acked.isEmpty() ? 0 : acked.get(acked.size() - 1).id();
  }

  /**
   * Checks one subscription (see the class comment) and returns how many resets it got; what is
   * wrong goes to {@code violations}.
   *
   * @param after the subscription's position (0: from before the first publish; -1: all retained
   *     history, which owes only what the store holds, as after a reset)
   */
  static int check(
      String name,
      RecordingSink sink,
      long after,
      List<Acked> acked,
      Set<String> storedData,
      Map<Long, String> ackedData,
      List<String> violations) {
    List<String[]> frames = new ArrayList<>(); // {id, data} or {"reset", data}
    for (byte[] frame : sink.frames()) {
      String text = new String(frame, UTF_8);
      String id = null;
      String data = null;
      boolean reset = false;
      for (String line : text.split("\n")) {
        if (line.startsWith("id: ")) {
          id = line.substring(4);
        } else if (line.startsWith("data: ")) {
          data = line.substring(6);
        } else if (line.equals("event: reset")) {
          reset = true;
        }
      }
      if (reset) {
        frames.add(new String[] {"reset", data});
      } else if (id != null) {
        frames.add(new String[] {id, data});
      }
    }
    int resets = 0;
    int segmentStart = 0;
    long previous = 0;
    // The last event before the last reset: a reset at the start of the stream (0) is followed by
    // all retained history, one in the middle by what comes after that event.
    long beforeReset = 0;
    for (int i = 0; i < frames.size(); i++) {
      String[] frame = frames.get(i);
      if (frame[0].equals("reset")) {
        resets++;
        segmentStart = i + 1;
        beforeReset = previous;
        previous = 0;
        continue;
      }
      long id = Long.parseLong(frame[0]);
      if (id <= previous) {
        violations.add(name + ": id " + id + " after " + previous);
      }
      previous = id;
      String expected = ackedData.get(id);
      if (expected != null && !expected.equals(frame[1])) {
        violations.add(name + ": id " + id + " carried " + frame[1] + ", acknowledged " + expected);
      }
    }
    // Every acknowledged event this stream owes, in order: after its position; after a reset, all
    // the store still holds after the last event before the reset.
    List<String> received = new ArrayList<>();
    for (String[] frame : frames.subList(segmentStart, frames.size())) {
      received.add(frame[1]);
    }
    int at = 0;
    List<Long> missing = new ArrayList<>();
    for (Acked event : acked) {
      boolean owed =
          resets > 0 || after < 0
              ? storedData.contains(event.data()) && event.id() > beforeReset
              : event.id() > after;
      if (!owed) {
        continue;
      }
      int found = received.subList(at, received.size()).indexOf(event.data());
      if (found < 0) {
        missing.add(event.id());
      } else {
        at += found + 1;
      }
    }
    if (!missing.isEmpty()) {
      violations.add(
          name
              + ": acknowledged events missing without a reset (or out of order): "
              + missing
              + (missing.size() > 20 ? " (" + missing.size() + ")" : ""));
    }
    return resets;
  }

  /** One node: a broker on its own log. */
  private static final class Node implements AutoCloseable {
    final RedisEventLog log;
    final Broker broker;

    Node(RedisEventLog log) {
      this.log = log;
      this.broker = Broker.builder().log(log).heartbeat(Duration.ZERO).build();
    }

    @Override
    public void close() {
      broker.close();
    }
  }
}
