package dev.herald.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import dev.herald.server.spi.EventLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The promise under pressure, for any store: retention small next to the replays, readers that are
 * slow or stall, subscriptions cut as slow consumers that resume with their last id. Every stream
 * must deliver every event of its topics after its position exactly once and in order, or say
 * in-band where it lost some: a {@code reset} right before the gap. At the end every reader catches
 * up with the last event published.
 *
 * <p>Extend it with {@link #newLog}; the seed is printed on failure and can be replayed with {@code
 * -Dherald.stress.seed=N}.
 */
@Timeout(180)
public abstract class RetentionPressureStressTest {
  private static final String[] TOPICS = {"a", "b"};
  private static final int READERS = 6;
  private static final int PAGE = 16;
  private static final int RETAINED = 64;

  /** The log under test, with this retention; the broker closes it. */
  protected abstract EventLog newLog(Retention retention);

  /** Events the publisher stores in one run; a slower store may ask for fewer. */
  protected int events() {
    return 6_000;
  }

  @Test
  void slowAndStalledReadersGetEveryEventOnceInOrderOrAResetBeforeTheGap() throws Exception {
    long seed = Long.getLong("herald.stress.seed", System.nanoTime());
    StressRun.replayable(seed, this::run);
  }

  private void run(long seed) throws Exception {
    Random random = new Random(seed);
    EventLog log = newLog(new Retention(RETAINED, Duration.ofHours(1)));
    Broker broker =
        Broker.builder()
            .log(log)
            .heartbeat(Duration.ZERO)
            .replayPageSize(PAGE)
            // Small, so replays outgrow it and must fall back to the log.
            .maxBufferedEvents(40)
            .build();
    ExecutorService threads = Executors.newFixedThreadPool(READERS + 1);
    AtomicBoolean publishing = new AtomicBoolean(true);
    AtomicLong lastPublished = new AtomicLong();
    Acknowledged published = new Acknowledged();
    List<String> violations = new CopyOnWriteArrayList<>();
    AtomicInteger resets = new AtomicInteger();
    AtomicInteger cuts = new AtomicInteger();
    try {
      List<Future<?>> readers = new ArrayList<>();
      for (int r = 0; r < READERS; r++) {
        Set<String> topics = r % 3 == 2 ? Set.of(TOPICS) : Set.of(TOPICS[r % 2]);
        Random own = new Random(random.nextLong());
        int index = r;
        readers.add(
            threads.submit(
                () -> {
                  read(
                      index,
                      broker,
                      log,
                      topics,
                      own,
                      publishing,
                      lastPublished,
                      published,
                      violations,
                      resets,
                      cuts);
                  return null;
                }));
      }
      String data = "x".repeat(2048);
      Random publisherRandom = new Random(random.nextLong());
      Future<?> publisher =
          threads.submit(
              () -> {
                try {
                  for (int i = 0; i < events(); i++) {
                    int pick = publisherRandom.nextInt(5);
                    Set<String> to = pick == 0 ? Set.of(TOPICS) : Set.of(TOPICS[pick % 2]);
                    StoredEvent stored =
                        broker
                            .publish(new Publication(to, Event.builder().data(i + data).build()))
                            .get(30, TimeUnit.SECONDS);
                    published.add(stored);
                    lastPublished.set(stored.id());
                    if (i % 8 == 0) {
                      LockSupport.parkNanos(200_000);
                    }
                  }
                } finally {
                  publishing.set(false);
                }
                return null;
              });
      publisher.get(120, TimeUnit.SECONDS);
      for (Future<?> reader : readers) {
        reader.get(60, TimeUnit.SECONDS);
      }
    } finally {
      publishing.set(false);
      threads.shutdownNow();
      threads.awaitTermination(10, TimeUnit.SECONDS);
      broker.close();
    }
    assertThat(violations).as("seed %d", seed).isEmpty();
    assertThat(resets.get() + cuts.get())
        .as("readers were cut or overtaken by retention (the pressure happened)")
        .isPositive();
    System.out.printf(
        "retention pressure (%s): %d events, %d cuts, %d resets%n",
        getClass().getSimpleName(), events(), cuts.get(), resets.get());
  }

  /**
   * One reader: a chain of streams, each resumed after the last id it got, reading slowly and
   * sometimes not at all, until it has the last event published.
   */
  private static void read(
      int reader,
      Broker broker,
      EventLog log,
      Set<String> topics,
      Random random,
      AtomicBoolean publishing,
      AtomicLong lastPublished,
      Acknowledged published,
      List<String> violations,
      AtomicInteger resets,
      AtomicInteger cuts)
      throws InterruptedException {
    long position = 0;
    boolean first = true;
    boolean deepStall = reader < 3;
    published.awaitFirst();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    while (System.nanoTime() < deadline) {
      SlowSink sink = new SlowSink(16);
      Position from = first ? Position.earliest() : Position.after(position);
      Subscription subscription = broker.subscribe(topics, from, sink);
      long hopStart = first ? 0 : position;
      first = false;
      Stream stream = new Stream(topics, hopStart, published, log);
      int taken = 0;
      int stallAfter = 50 + random.nextInt(400);
      while (true) {
        if (taken == stallAfter) {
          // Stop reading: the sink fills and the broker cuts the stream as a slow consumer. The
          // first reader of each topic set also stays away until retention has turned over its
          // topics several times, so its next stream must open with a reset.
          long away = published.of(topics).size() + (deepStall ? 4 * RETAINED : 0);
          for (int i = 0;
              i < 400
                  && publishing.get()
                  && (sink.reason() == null || published.of(topics).size() < away);
              i++) {
            sink.awaitClosed(TimeUnit.MILLISECONDS.toNanos(50));
          }
        }
        byte[] frame = sink.poll();
        if (frame == null) {
          if (sink.isClosed()) {
            break;
          }
          if (!publishing.get() && position >= published.of(topics).last()) {
            subscription.close();
            return;
          }
          sink.awaitFrame(TimeUnit.MILLISECONDS.toNanos(20));
          continue;
        }
        taken++;
        String text = new String(frame, UTF_8);
        if (text.startsWith(":")) {
          continue;
        }
        if (text.contains("event: reset")) {
          resets.incrementAndGet();
          stream.reset();
          continue;
        }
        String violation = stream.deliver(idOf(text));
        if (violation != null) {
          violations.add(
              violation
                  + " "
                  + subscription
                  + " dropped a="
                  + log.droppedThrough(Set.of("a"))
                  + " b="
                  + log.droppedThrough(Set.of("b")));
          return;
        }
        position = Math.max(position, idOf(text));
        if (random.nextInt(4) == 0) {
          LockSupport.parkNanos(random.nextInt(300_000));
        }
      }
      if (sink.reason() == CloseReason.SLOW_CONSUMER) {
        cuts.incrementAndGet();
      } else {
        violations.add(topics + ": stream ended as " + sink.reason());
        return;
      }
    }
    violations.add(topics + ": never caught up with " + lastPublished.get() + ", at " + position);
  }

  private static long idOf(String frame) {
    for (String line : frame.split("\n")) {
      if (line.startsWith("id:")) {
        return Long.parseLong(line.substring(3).trim());
      }
    }
    throw new AssertionError("event without an id: " + frame);
  }

  /**
   * The checks on one stream: ids strictly increasing (a reset that opens the stream may go back to
   * the oldest retained event); per topic, consecutive events of that topic are consecutive among
   * its acknowledged events, unless a reset came between them.
   */
  private static final class Stream {
    private final Set<String> topics;
    private final long from;
    private final Acknowledged published;
    private final java.util.Map<String, Long> lastOfTopic = new java.util.HashMap<>();
    private final java.util.Map<String, Boolean> resetSince = new java.util.HashMap<>();
    private final java.util.Map<String, Long> droppedAtFirst = new java.util.HashMap<>();
    private final EventLog log;
    private boolean fromOldest;
    private long previous;
    private boolean delivered;
    // Per topic: whether a reset came since the last delivered event of that topic alone.
    private final java.util.Map<String, Boolean> resetSinceOwn = new java.util.HashMap<>();

    Stream(Set<String> topics, long from, Acknowledged published, EventLog log) {
      this.log = log;
      this.topics = topics;
      this.from = from;
      this.published = published;
      this.previous = from;
      for (String topic : topics) {
        lastOfTopic.put(topic, from);
        resetSince.put(topic, false);
        resetSinceOwn.put(topic, false);
      }
    }

    private final java.util.ArrayDeque<String> trace = new java.util.ArrayDeque<>();

    private void trace(String item) {
      trace.add(item);
      if (trace.size() > 30) {
        trace.poll();
      }
    }

    void reset() {
      trace("RESET");
      if (!delivered) {
        // All retained history follows, including what the client may have had.
        previous = 0;
        lastOfTopic.replaceAll((topic, id) -> 0L);
      }
      resetSince.replaceAll((topic, seen) -> true);
      resetSinceOwn.replaceAll((topic, seen) -> true);
    }

    /** Null, or what is wrong with delivering {@code id} now. */
    String deliver(long id) {
      if (previous == 0 && droppedAtFirst.isEmpty()) {
        fromOldest = true;
        for (String topic : topics) {
          droppedAtFirst.put(topic, log.droppedThrough(Set.of(topic)));
        }
      }
      trace(id + "" + published.topicsOf(id));
      if (id <= previous) {
        return topics + ": id " + id + " after " + previous + " (duplicate or out of order)";
      }
      Set<String> of = published.topicsOf(id);
      if (of == null) {
        return topics + ": id " + id + " was never acknowledged";
      }
      for (String topic : topics) {
        if (!of.contains(topic)) {
          continue;
        }
        long last = lastOfTopic.get(topic);
        // From the oldest (position 0, or after an opening reset): what was dropped when its
        // first event came is no gap, even after an event of the topic that another topic kept.
        long after = fromOldest ? Math.max(last, Math.min(id, droppedAtFirst.get(topic))) : last;
        NavigableSet<Long> skipped = published.of(Set.of(topic)).subSet(after, false, id, false);
        // With several topics, an event of two of them may be retained through one after the other
        // dropped it, so it can come after the reset that told of a loss in the other. An event of
        // this topic alone (among those subscribed) is retained only if all later ones of the
        // topic are: a loss after it must be told after it.
        boolean told = resetSince.get(topic) || resetSinceOwn.get(topic);
        if (!skipped.isEmpty() && !told) {
          return topics
              + ": silent gap of "
              + skipped.size()
              + " events of "
              + topic
              + " between "
              + last
              + " and "
              + id
              + " (stream from "
              + from
              + ") missing "
              + skipped
              + ", last items "
              + trace;
        }
        lastOfTopic.put(topic, id);
        resetSince.put(topic, false);
      }
      java.util.Set<String> subscribed = new java.util.HashSet<>(of);
      subscribed.retainAll(topics);
      if (subscribed.size() == 1) {
        resetSinceOwn.put(subscribed.iterator().next(), false);
      }
      previous = id;
      delivered = true;
      return null;
    }
  }

  /** The ids of acknowledged events, per topic and for any set of topics. */
  private static final class Acknowledged {
    private final ConcurrentSkipListSet<Long> a = new ConcurrentSkipListSet<>();
    private final ConcurrentSkipListSet<Long> b = new ConcurrentSkipListSet<>();
    private final ConcurrentSkipListSet<Long> both = new ConcurrentSkipListSet<>();
    private final java.util.concurrent.ConcurrentHashMap<Long, Set<String>> topics =
        new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.CountDownLatch first =
        new java.util.concurrent.CountDownLatch(1);

    void awaitFirst() throws InterruptedException {
      assertThat(first.await(30, TimeUnit.SECONDS)).as("first publish").isTrue();
    }

    /** The topics of an acknowledged event; waits for its publish to complete if need be. */
    Set<String> topicsOf(long id) {
      // A subscriber may see an event just before its publisher's future completes.
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      Set<String> of = topics.get(id);
      while (of == null && System.nanoTime() < end) {
        LockSupport.parkNanos(100_000);
        of = topics.get(id);
      }
      return of;
    }

    void add(StoredEvent event) {
      topics.put(event.id(), event.topics());
      if (event.topics().contains("a")) {
        a.add(event.id());
      }
      if (event.topics().contains("b")) {
        b.add(event.id());
      }
      both.add(event.id());
      first.countDown();
    }

    NavigableSet<Long> of(Set<String> topics) {
      if (topics.size() == 2) {
        return both;
      }
      return topics.contains("a") ? a : b;
    }
  }

  /**
   * A transport with a small bound, like a socket's buffer: over it the stream is cut; below half
   * of it, it is writable.
   */
  private static final class SlowSink implements Sink {
    private final ArrayBlockingQueue<byte[]> frames;
    private final int capacity;
    private final Object monitor = new Object();
    private volatile CloseReason reason;

    SlowSink(int capacity) {
      this.capacity = capacity;
      this.frames = new ArrayBlockingQueue<>(capacity);
    }

    @Override
    public boolean send(byte[] frame) {
      boolean taken = frames.offer(frame);
      synchronized (monitor) {
        monitor.notifyAll();
      }
      return taken;
    }

    @Override
    public boolean writable() {
      return frames.size() < capacity / 2;
    }

    @Override
    public void closed(CloseReason reason) {
      this.reason = reason;
      synchronized (monitor) {
        monitor.notifyAll();
      }
    }

    byte[] poll() {
      return frames.poll();
    }

    boolean isClosed() {
      return reason != null && frames.isEmpty();
    }

    CloseReason reason() {
      return reason;
    }

    void awaitFrame(long nanos) throws InterruptedException {
      synchronized (monitor) {
        if (frames.isEmpty() && reason == null) {
          TimeUnit.NANOSECONDS.timedWait(monitor, nanos);
        }
      }
    }

    void awaitClosed(long nanos) throws InterruptedException {
      long end = System.nanoTime() + nanos;
      synchronized (monitor) {
        while (reason == null && System.nanoTime() < end) {
          TimeUnit.NANOSECONDS.timedWait(monitor, Math.max(1, end - System.nanoTime()));
        }
      }
    }
  }
}
