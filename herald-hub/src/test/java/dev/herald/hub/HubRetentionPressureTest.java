package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.EventSource;
import dev.herald.core.Event;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import dev.herald.sqlite.SqliteEventLog;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableSet;
import java.util.Random;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The promise through the hub, as the black-box test put it: real clients ({@code
 * herald-client}, which resumes with {@code Last-Event-ID} on its own) read large events slowly and
 * sometimes stop reading, so the hub cuts them as slow consumers; retention is small next to what
 * they must replay. Every client gets every event exactly once and in order, or a {@code reset}
 * before the gap — never a silent skip.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HubRetentionPressureTest {
  private static final int EVENTS = 1500;
  private static final int READERS = 3;
  private static final int RETAINED = 100;

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"memory", "sqlite"})
  void stalledClientsGetEveryEventOnceInOrderOrAResetBeforeTheGap(String store) throws Exception {
    long seed = Long.getLong("herald.stress.seed", System.nanoTime());
    Retention retention = new Retention(RETAINED, Duration.ofHours(1));
    EventLog log =
        store.equals("memory")
            ? MemoryEventLog.builder().retention(retention).build()
            : SqliteEventLog.builder().path(dir.resolve("events.db")).retention(retention).build();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    List<EventSource> sources = new ArrayList<>();
    try (HubFixture f =
        new HubFixture(
            Hub.builder()
                .log(log)
                .publishRate(0)
                .maxBufferBytes(32 * 1024)
                .heartbeat(Duration.ZERO))) {
      ConcurrentSkipListSet<Long> published = new ConcurrentSkipListSet<>();
      java.util.concurrent.atomic.AtomicBoolean publishing =
          new java.util.concurrent.atomic.AtomicBoolean(true);
      List<Reader> readers = new ArrayList<>();
      Random random = new Random(seed);
      for (int i = 0; i < READERS; i++) {
        // The first reader stays away, once, until the publisher is done.
        Reader reader =
            new Reader(published, timer, new Random(random.nextLong()), i == 0, publishing);
        EventSource source =
            EventSource.builder(f.uri("/events?topic=p"))
                .reconnectionTime(Duration.ofMillis(20))
                .maxReconnectionDelay(Duration.ofMillis(200))
                .build();
        sources.add(source);
        source.subscribe(reader);
        readers.add(reader);
      }
      for (Reader reader : readers) {
        assertThat(reader.subscribed.await(10, TimeUnit.SECONDS)).isTrue();
      }
      String data = "x".repeat(16 * 1024);
      for (int i = 0; i < EVENTS; i++) {
        String id = f.publish("{\"topic\": \"p\", \"data\": \"" + i + data + "\"}");
        published.add(Long.parseLong(id));
      }
      publishing.set(false);
      long last = published.last();
      for (Reader reader : readers) {
        assertThat(reader.reached(last, Duration.ofSeconds(60)))
            .as("seed %d: a reader got the last event, at %s", seed, reader.previous)
            .isTrue();
      }
      List<String> violations = new ArrayList<>();
      int resets = 0;
      for (Reader reader : readers) {
        violations.addAll(reader.violations);
        resets += reader.resets.get();
      }
      assertThat(violations).as("seed %d", seed).isEmpty();
      assertThat(resets)
          .as("retention overtook a stalled reader (the pressure happened)")
          .isPositive();
    } finally {
      sources.forEach(EventSource::close);
      timer.shutdownNow();
    }
  }

  /**
   * A reader that asks for one event at a time, and now and then stops asking for a while: the
   * client then stops reading its socket and the hub's buffer for the stream fills up.
   */
  private static final class Reader implements Flow.Subscriber<Event> {
    final CountDownLatch subscribed = new CountDownLatch(1);
    final List<String> violations = new CopyOnWriteArrayList<>();
    final AtomicInteger resets = new AtomicInteger();
    private final NavigableSet<Long> published;
    private final ScheduledExecutorService timer;
    private final Random random;
    private final java.util.concurrent.atomic.AtomicBoolean publishing;
    private boolean awayOnce;
    private final Object lock = new Object();
    private Flow.Subscription subscription;
    private volatile long previous;
    private boolean resetPending;
    private int taken;

    Reader(
        NavigableSet<Long> published,
        ScheduledExecutorService timer,
        Random random,
        boolean awayOnce,
        java.util.concurrent.atomic.AtomicBoolean publishing) {
      this.published = published;
      this.timer = timer;
      this.random = random;
      this.awayOnce = awayOnce;
      this.publishing = publishing;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      this.subscription = subscription;
      subscription.request(1);
      subscribed.countDown();
    }

    @Override
    public void onNext(Event event) {
      synchronized (lock) {
        take(event);
        lock.notifyAll();
      }
      if (++taken == 100 && awayOnce) {
        awayOnce = false;
        // Until the publisher is done: far more than retention keeps, and more bytes than the
        // sockets between the hub and the client can hold, so the hub must cut the stream.
        awaitThenRequest(() -> !publishing.get());
      } else if (taken % 200 == 0) {
        // Stop reading for long enough that the stream is cut and retention moves on.
        timer.schedule(
            () -> subscription.request(1), 400 + random.nextInt(400), TimeUnit.MILLISECONDS);
      } else {
        subscription.request(1);
      }
    }

    /** Asks for the next event once {@code ready} holds, checking every 20 ms. */
    private void awaitThenRequest(java.util.function.BooleanSupplier ready) {
      timer.schedule(
          () -> {
            if (ready.getAsBoolean()) {
              subscription.request(1);
            } else {
              awaitThenRequest(ready);
            }
          },
          20,
          TimeUnit.MILLISECONDS);
    }

    private void take(Event event) {
      if (event.type().equals("reset")) {
        resets.incrementAndGet();
        resetPending = true;
        return;
      }
      if (event.type().equals("open")) {
        return;
      }
      long id = Long.parseLong(event.id().orElseThrow());
      if (id <= previous) {
        if (resetPending) {
          // A reset that opens a stream is followed by all retained history.
          previous = 0;
        } else {
          violations.add("id " + id + " after " + previous + " (duplicate or out of order)");
          return;
        }
      }
      NavigableSet<Long> skipped = published.subSet(previous, false, id, false);
      if (previous > 0 && !skipped.isEmpty() && !resetPending) {
        violations.add(
            "silent gap of " + skipped.size() + " events between " + previous + " and " + id);
      }
      resetPending = false;
      previous = id;
    }

    boolean reached(long id, Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      synchronized (lock) {
        while (previous < id) {
          long left = end - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        }
        return true;
      }
    }

    @Override
    public void onError(Throwable throwable) {
      violations.add("stream failed: " + throwable);
    }

    @Override
    public void onComplete() {}
  }
}
