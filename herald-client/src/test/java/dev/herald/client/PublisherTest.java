package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.ScriptedResponse;
import dev.herald.core.Event;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The source as a Flow.Publisher: demand drives the network. */
@Timeout(60)
class PublisherTest extends ScriptedSourceTest {
  @Test
  void deliversNoMoreThanRequestedEvenFromOneChunk() throws Exception {
    StringBuilder stream = new StringBuilder();
    for (int i = 1; i <= 50; i++) {
      stream.append("data: ").append(i).append("\n\n");
    }
    server.enqueue(ScriptedResponse.eventStream().send(stream.toString()).stall());
    TestSubscriber subscriber = new TestSubscriber();
    try (EventSource source = source().build()) {
      source.subscribe(subscriber);
      subscriber.request(1);
      assertThat(subscriber.next().data()).isEqualTo("1");
      // All 50 events are in the client's hands; none may come without demand.
      assertThat(subscriber.events.poll(300, TimeUnit.MILLISECONDS)).isNull();
      subscriber.request(2);
      assertThat(subscriber.next().data()).isEqualTo("2");
      assertThat(subscriber.next().data()).isEqualTo("3");
      assertThat(subscriber.events.poll(300, TimeUnit.MILLISECONDS)).isNull();
      subscriber.request(Long.MAX_VALUE);
      for (int i = 4; i <= 50; i++) {
        assertThat(subscriber.next().data()).isEqualTo(String.valueOf(i));
      }
      assertThat(subscriber.overflowed).isFalse();
    }
  }

  @Test
  void demandOfOneStopsTheParserAfterEachEventWhateverTheLineEnds() throws Exception {
    StringBuilder stream = new StringBuilder(": start\r\n");
    String[] ends = {"\n", "\r", "\r\n"};
    for (int i = 1; i <= 30; i++) {
      String end = ends[i % 3];
      stream.append("id: ").append(i).append(end).append("data: ").append(i).append(end);
      stream.append(i % 5 == 0 ? ": comment" + end : "").append(end);
    }
    server.enqueue(ScriptedResponse.eventStream().send(stream.toString()).stall());
    TestSubscriber subscriber = new TestSubscriber();
    try (EventSource source = source().build()) {
      source.subscribe(subscriber);
      for (int i = 1; i <= 30; i++) {
        subscriber.request(1);
        Event event = subscriber.next();
        assertThat(event.data()).isEqualTo(String.valueOf(i));
        assertThat(event.id()).hasValue(String.valueOf(i));
        assertThat(subscriber.received).hasValue(i);
      }
      assertThat(source.lastEventId()).isEqualTo("30");
      assertThat(subscriber.events.poll(300, TimeUnit.MILLISECONDS)).isNull();
      assertThat(subscriber.overflowed).isFalse();
      assertThat(recorder.comments).hasSize(1 + 6);
    }
  }

  @Test
  void slowSubscriberHoldsTheServerBackWithoutTrippingTheReadTimeout() throws Exception {
    Firehose firehose = new Firehose(64L * 1024 * 1024);
    server.enqueue(firehose.response());
    TestSubscriber subscriber = new TestSubscriber();
    try (EventSource source = source().readTimeout(Duration.ofMillis(300)).build()) {
      source.subscribe(subscriber);
      for (int i = 1; i <= 10; i++) {
        subscriber.request(1);
        assertThat(subscriber.next().id()).hasValue(String.valueOf(i));
      }
      long stalledAt = firehose.awaitStalled(10_000);
      // Socket buffers and the client's read-ahead hold a few MiB at most, not 64.
      assertThat(stalledAt).isLessThan(16L * 1024 * 1024);
      assertThat(subscriber.received).hasValue(10);
      assertThat(recorder.failures).as("waiting on the consumer is not a read timeout").isEmpty();

      subscriber.request(Long.MAX_VALUE);
      for (int i = 11; i <= firehose.events; i++) {
        Event event = subscriber.next();
        assertThat(event.id()).hasValue(String.valueOf(i));
      }
      assertThat(firehose.written).hasValue(firehose.totalBytes());
      assertThat(subscriber.overflowed).isFalse();
    }
  }

  @Test
  void completesWhenTheServerSaysNoContent() throws Exception {
    server.enqueue(ScriptedResponse.status(204));
    TestSubscriber subscriber = new TestSubscriber();
    EventSource source = source().build();
    source.subscribe(subscriber);
    subscriber.awaitTerminated();
    assertThat(subscriber.completed).isTrue();
    assertThat(subscriber.error).hasValue(null);
  }

  @Test
  void completesWhenTheSourceIsClosed() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().stall());
    TestSubscriber subscriber = new TestSubscriber();
    EventSource source = source().build();
    source.subscribe(subscriber);
    subscriber.request(1);
    recorder.nextOpen();
    source.close();
    subscriber.awaitTerminated();
    assertThat(subscriber.completed).isTrue();
  }

  @Test
  void signalsTheErrorThatClosesTheSourceButNotThoseItRecoversFrom() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").drop());
    server.enqueue(ScriptedResponse.status(503));
    server.enqueue(ScriptedResponse.status(403).body("{\"error\": \"token_expired\"}"));
    TestSubscriber subscriber = new TestSubscriber();
    EventSource source = source().build();
    source.subscribe(subscriber);
    subscriber.request(10);
    assertThat(subscriber.next().data()).isEqualTo("a");
    subscriber.awaitTerminated();
    SseHttpException error = (SseHttpException) subscriber.error.get();
    assertThat(error.statusCode()).isEqualTo(403);
    assertThat(error.body()).contains("token_expired");
    assertThat(recorder.failures).hasSize(3);
  }

  @Test
  void cancellingTheSubscriptionClosesTheConnection() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").stall());
    TestSubscriber subscriber = new TestSubscriber();
    EventSource source = source().build();
    source.subscribe(subscriber);
    subscriber.request(1);
    subscriber.next();
    subscriber.cancel();
    assertThat(server.awaitNoOpenConnections(Duration.ofSeconds(5))).isTrue();
    recorder.awaitClosed();
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
    assertThat(subscriber.terminated.getCount()).as("no signal after cancel").isEqualTo(1);
  }

  @Test
  void aSecondSubscriberIsRefused() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.subscribe(new TestSubscriber());
      TestSubscriber second = new TestSubscriber();
      source.subscribe(second);
      second.awaitTerminated();
      assertThat(second.error.get()).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void nonPositiveDemandIsAnError() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().stall());
    TestSubscriber subscriber = new TestSubscriber();
    EventSource source = source().build();
    source.subscribe(subscriber);
    subscriber.request(0);
    subscriber.awaitTerminated();
    assertThat(subscriber.error.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
  }
}
