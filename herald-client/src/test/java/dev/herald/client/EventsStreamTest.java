package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.client.testing.ScriptedResponse;
import dev.herald.core.Event;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The source as a blocking stream of events. */
@Timeout(60)
class EventsStreamTest extends ScriptedSourceTest {
  @Test
  void streamsEventsAcrossReconnectionsAndClosesWithTheStream() throws Exception {
    server.enqueue(
        ScriptedResponse.eventStream().send("id: 1\ndata: a\n\nid: 2\ndata: b\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().send("id: 3\ndata: c\n\n").stall());
    List<String> data;
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      data = events.limit(3).map(Event::data).collect(Collectors.toList());
    }
    assertThat(data).containsExactly("a", "b", "c");
    assertThat(server.takeRequest().header("Last-Event-ID")).isEmpty();
    assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("2");
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    recorder.awaitClosed();
  }

  @Test
  void closingTheStreamClosesTheSource() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    EventSource source = source().build();
    Stream<Event> events = source.events();
    assertThat(events.iterator().next().data()).isEqualTo("a");
    events.close();
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
  }

  @Test
  void endsNormallyOnNoContent() {
    server.enqueue(ScriptedResponse.eventStream().send("data: last\n\n").end());
    server.enqueue(ScriptedResponse.status(204));
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      assertThat(events.map(Event::data)).containsExactly("last");
    }
  }

  @Test
  void throwsTheErrorThatClosedTheSource() {
    server.enqueue(ScriptedResponse.status(401).body("{\"error\": \"token_expired\"}"));
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      Iterator<Event> iterator = events.iterator();
      assertThatThrownBy(iterator::hasNext)
          .isInstanceOfSatisfying(
              SseHttpException.class, e -> assertThat(e.statusCode()).isEqualTo(401))
          .hasMessageContaining("token_expired");
    }
  }

  @Test
  void wrapsANetworkErrorThatClosedTheSource() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").drop());
    try (EventSource source = source().errorPolicy((error, delay) -> Optional.empty()).build();
        Stream<Event> events = source.events()) {
      Iterator<Event> iterator = events.iterator();
      assertThat(iterator.next().data()).isEqualTo("a");
      assertThatThrownBy(iterator::hasNext).isInstanceOf(UncheckedIOException.class);
    }
  }

  @Test
  void slowConsumerHoldsTheServerBack() throws Exception {
    Firehose firehose = new Firehose(64L * 1024 * 1024);
    server.enqueue(firehose.response());
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      Iterator<Event> iterator = events.iterator();
      for (int i = 1; i <= 10; i++) {
        assertThat(iterator.next().id()).hasValue(String.valueOf(i));
      }
      long stalledAt = firehose.awaitStalled(10_000);
      assertThat(stalledAt).isLessThan(16L * 1024 * 1024);
      assertThat(recorder.events.size())
          .as("events taken from the network: read plus at most the 64 queued")
          .isLessThanOrEqualTo(10 + 64);
      for (int i = 11; i <= firehose.events; i++) {
        assertThat(iterator.next().id()).hasValue(String.valueOf(i));
      }
    }
  }

  @Test
  void interruptingAWaitingConsumerCancelsTheWait() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicReference<Boolean> interrupted = new AtomicReference<>();
      CountDownLatch done = new CountDownLatch(1);
      Thread consumer =
          new Thread(
              () -> {
                try {
                  events.iterator().hasNext();
                } catch (RuntimeException e) {
                  thrown.set(e);
                  interrupted.set(Thread.currentThread().isInterrupted());
                }
                done.countDown();
              });
      consumer.start();
      recorder.nextOpen();
      consumer.interrupt();
      assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(thrown.get()).isInstanceOf(CancellationException.class);
      assertThat(interrupted.get()).isTrue();
    }
  }

  @Test
  void theReaderParsesWhatArrivesWhileItWaits() throws Exception {
    CountDownLatch readerWaits = new CountDownLatch(1);
    server.enqueue(
        ScriptedResponse.eventStream()
            .send("data: a\n\n")
            .await(readerWaits)
            .send("data: b\n\ndata: c\n\n")
            .stall());
    Thread reader = Thread.currentThread();
    Thread watcher =
        new Thread(
            () -> {
              // Polls a measurement: the reader parks in the stream once it has taken "a".
              long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
              while (reader.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
                Thread.onSpinWait();
              }
              readerWaits.countDown();
            });
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      Iterator<Event> iterator = events.iterator();
      assertThat(iterator.next().data()).isEqualTo("a");
      watcher.start();
      assertThat(iterator.next().data()).isEqualTo("b");
      assertThat(iterator.next().data()).isEqualTo("c");
      watcher.join(10_000);
      assertThat(recorder.threads.subList(1, 3))
          .as("parsed and dispatched on the thread that waited for them")
          .containsOnly(reader.getName());
    }
  }

  @Test
  void withAGivenExecutorEveryCallbackRunsThereAndNeverOnTheReader() {
    StringBuilder stream = new StringBuilder();
    for (int i = 1; i <= 200; i++) {
      stream.append("id: ").append(i).append("\ndata: ").append(i).append("\n\n");
    }
    server.enqueue(ScriptedResponse.eventStream().send(stream.toString()).stall());
    ExecutorService executor =
        Executors.newSingleThreadExecutor(runnable -> new Thread(runnable, "given-executor"));
    try (EventSource source = source().executor(executor).build();
        Stream<Event> events = source.events()) {
      List<String> ids =
          events.limit(200).map(event -> event.id().orElseThrow()).collect(Collectors.toList());
      assertThat(ids).hasSize(200).startsWith("1", "2").endsWith("200");
      assertThat(recorder.threads).hasSize(200).containsOnly("given-executor");
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void closingFromAnotherThreadEndsAWaitingReader() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    try (EventSource source = source().build();
        Stream<Event> events = source.events()) {
      Iterator<Event> iterator = events.iterator();
      assertThat(iterator.next().data()).isEqualTo("a");
      Thread reader = Thread.currentThread();
      Thread closer =
          new Thread(
              () -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (reader.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
                  Thread.onSpinWait();
                }
                source.close();
              });
      closer.start();
      assertThat(iterator.hasNext()).isFalse();
      closer.join(10_000);
      assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
      recorder.awaitClosed();
      assertThat(recorder.closedCount).hasValue(1);
    }
  }
}
