package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.client.testing.ScriptedResponse;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Opening, closing, and leaving nothing behind. */
@Timeout(90)
class LifecycleTest extends ScriptedSourceTest {
  @Test
  void closeTearsDownTheSocketPromptly() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    EventSource source = source().build();
    source.start();
    recorder.nextEvent();
    assertThat(server.openConnectionCount()).isEqualTo(1);
    long start = System.nanoTime();
    source.close();
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
    recorder.awaitClosed();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
    assertThat(recorder.log).containsExactly("open", "event:a", "closed");
  }

  @Test
  void closeWhileWaitingForTheResponseAbortsTheRequest() throws Exception {
    server.enqueue(ScriptedResponse.noResponse());
    EventSource source = source().build();
    source.start();
    server.takeRequest();
    source.close();
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    recorder.awaitClosed();
    assertThat(recorder.log).containsExactly("closed");
  }

  @Test
  void closeFromInsideACallbackStopsDeliveryAtOnce() throws Exception {
    server.enqueue(
        ScriptedResponse.eventStream().send("data: 1\n\ndata: 2\n\ndata: 3\n\n").stall());
    EventSource source = source().build();
    source.addEventListener("message", event -> source.close());
    source.start();
    recorder.awaitClosed();
    assertThat(recorder.log).containsExactly("open", "event:1", "closed");
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
  }

  @Test
  void closeFromInsideOnErrorPreventsTheReconnection() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").drop());
    AtomicReference<EventSource> self = new AtomicReference<>();
    EventSource source =
        source()
            .listener(
                new EventSourceListener() {
                  @Override
                  public void onEvent(dev.herald.core.Event event) {
                    recorder.onEvent(event);
                  }

                  @Override
                  public void onError(Throwable error, Optional<Duration> retryDelay) {
                    recorder.onError(error, retryDelay);
                    self.get().close();
                  }

                  @Override
                  public void onClosed() {
                    recorder.onClosed();
                  }
                })
            .build();
    self.set(source);
    source.start();
    recorder.awaitClosed();
    assertThat(recorder.log).containsExactly("event:a", "error", "closed");
    assertThat(recorder.nextEvent().data()).isEqualTo("a");
    server.enqueue(ScriptedResponse.eventStream().stall());
    // A reconnection (delay zero) would have been made by now; none may come.
    assertThat(recorder.events.poll(300, TimeUnit.MILLISECONDS)).isNull();
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @Test
  void restartFromInsideACallbackSkipsTheRestOfTheBuffer() {
    server.enqueue(
        ScriptedResponse.eventStream().send("id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n").stall());
    server.enqueue(ScriptedResponse.eventStream().send("data: fresh\n\n").stall());
    try (EventSource source = source().build()) {
      source.addEventListener(
          "message",
          event -> {
            if (event.data().equals("1")) {
              source.restart();
            }
          });
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("1");
      assertThat(recorder.nextEvent().data()).isEqualTo("fresh");
      server.takeRequest();
      assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("1");
      assertThat(recorder.log).containsExactly("open", "event:1", "open", "event:fresh");
    }
  }

  @Test
  void closeIsIdempotentAndThreadSafe() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().stall());
    EventSource source = source().build();
    source.start();
    recorder.nextOpen();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> closers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Thread closer =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  return;
                }
                source.close();
              });
      closer.start();
      closers.add(closer);
    }
    go.countDown();
    for (Thread closer : closers) {
      closer.join(5_000);
    }
    source.close();
    recorder.awaitClosed();
    source.restart(); // Ignored once closed.
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    assertThat(recorder.closedCount).hasValue(1);
    assertThat(recorder.log).containsExactly("open", "closed");
    assertThat(server.requestCount()).isEqualTo(1);
    assertThatThrownBy(source::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void readyStateFollowsTheConnection() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").await(release).drop());
    EventSource source = source().reconnectionTime(Duration.ofMinutes(10)).build();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CONNECTING);
    source.start();
    recorder.nextEvent();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.OPEN);
    release.countDown();
    recorder.nextFailure();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CONNECTING);
    source.close();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
  }

  @Test
  void aThrowingListenerDoesNotBreakTheStream() {
    server.enqueue(ScriptedResponse.eventStream().send("data: 1\n\n").send("data: 2\n\n").stall());
    try (EventSource source = source().build()) {
      source.addEventListener(
          "message",
          event -> {
            throw new IllegalStateException("listener bug");
          });
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("1");
      assertThat(recorder.nextEvent().data()).isEqualTo("2");
      assertThat(recorder.failures).isEmpty();
    }
  }

  @Test
  void typeListenersSeeOnlyTheirTypeAndMayBeAddedLater() throws Exception {
    CountDownLatch added = new CountDownLatch(1);
    server.enqueue(
        ScriptedResponse.eventStream()
            .send("event: price\ndata: 1\n\ndata: plain\n\n")
            .await(added)
            .send("event: price\ndata: 2\n\nevent: news\ndata: n\n\n")
            .stall());
    List<String> prices = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> messages = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (EventSource source = source().build()) {
      source.addEventListener("message", event -> messages.add(event.data()));
      source.start();
      recorder.nextEvents(2);
      source.addEventListener("price", event -> prices.add(event.data()));
      added.countDown();
      recorder.nextEvents(2);
      assertThat(prices).containsExactly("2");
      assertThat(messages).containsExactly("plain");
    }
  }

  @Test
  void thousandsOfSourcesLeaveNoThreadsConnectionsOrTimersBehind() throws Exception {
    server.dispatch(request -> ScriptedResponse.eventStream().send("data: hi\n\n").stall());
    // Warm up the shared client, pool and timer, so the baseline includes them.
    runBatch(1);
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(10))).isTrue();
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    int baseline = threads.getThreadCount();

    int batches = 20;
    int perBatch = 100;
    for (int i = 0; i < batches; i++) {
      runBatch(perBatch);
    }

    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(10)))
        .as("the server saw every connection closed")
        .isTrue();
    assertThat(server.connectionCount()).isEqualTo(1 + batches * perBatch);
    ScheduledThreadPoolExecutor timer = (ScheduledThreadPoolExecutor) DefaultResources.timer();
    assertThat(timer.getQueue()).as("watchdogs and reconnections left scheduled").isEmpty();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (threads.getThreadCount() > baseline && System.nanoTime() < deadline) {
      Thread.sleep(
          100); // Polling a measurement, not synchronising: idle threads end by themselves.
    }
    assertThat(threads.getThreadCount())
        .as("JVM threads back to the baseline")
        .isLessThanOrEqualTo(baseline);
  }

  private void runBatch(int n) throws InterruptedException {
    CountDownLatch received = new CountDownLatch(n);
    List<EventSource> sources = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      EventSource source =
          EventSource.builder(server.uri("/events"))
              .reconnectionTime(Duration.ZERO)
              .listener(event -> received.countDown())
              .build();
      sources.add(source);
      source.start();
    }
    assertThat(received.await(30, TimeUnit.SECONDS)).as("every source received its event").isTrue();
    for (EventSource source : sources) {
      source.close();
    }
  }
}
