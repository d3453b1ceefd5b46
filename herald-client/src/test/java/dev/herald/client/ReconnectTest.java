package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.RecordedRequest;
import dev.herald.client.testing.ScriptedResponse;
import dev.herald.core.Event;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Losing connections and coming back: timeouts, restarts, backoff, resumption. */
@Timeout(60)
class ReconnectTest extends ScriptedSourceTest {
  @Test
  void silentConnectionIsDroppedAfterTheReadTimeoutAndReconnected() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("id: 1\ndata: hello\n\n").stall());
    server.enqueue(ScriptedResponse.eventStream().send("data: again\n\n").stall());
    try (EventSource source = source().readTimeout(Duration.ofMillis(300)).build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("hello");
      Recorder.Failure failure = recorder.nextFailure();
      assertThat(failure.error())
          .isInstanceOf(HttpTimeoutException.class)
          .hasMessageContaining("300 ms (read timeout)");
      assertThat(failure.retryDelay()).hasValue(Duration.ZERO);
      server.takeRequest();
      assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("1");
      assertThat(recorder.nextEvent().data()).isEqualTo("again");
      // The timed-out connection was really closed, not just abandoned.
      assertThat(server.connectionCount()).isEqualTo(2);
      assertThat(server.awaitOpenConnections(1, Duration.ofSeconds(5)))
          .as("open connections: %d", server.openConnectionCount())
          .isTrue();
    }
  }

  @Test
  void readTimeoutAlsoBoundsTheWaitForResponseHeaders() {
    server.enqueue(ScriptedResponse.noResponse());
    server.enqueue(ScriptedResponse.eventStream().send("data: finally\n\n").stall());
    try (EventSource source = source().readTimeout(Duration.ofMillis(300)).build()) {
      source.start();
      assertThat(recorder.nextFailure().error()).isInstanceOf(HttpTimeoutException.class);
      assertThat(recorder.nextEvent().data()).isEqualTo("finally");
    }
  }

  @Test
  void heartbeatCommentsKeepTheConnectionAlive() {
    server.enqueue(
        ScriptedResponse.eventStream()
            .produce(
                writer -> {
                  // Paced by the server, longer in total than the read timeout.
                  for (int i = 0; i < 15; i++) {
                    writer.send(":\n");
                    Thread.sleep(50);
                  }
                  writer.send("data: done\n\n");
                })
            .stall());
    try (EventSource source = source().readTimeout(Duration.ofMillis(500)).build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("done");
      assertThat(recorder.log).doesNotContain("error").contains("comment:");
    }
  }

  @Test
  void restartReconnectsAtOnceWithoutAnErrorAndDiscardsThePartialEvent() throws Exception {
    CountDownLatch sent = new CountDownLatch(1);
    server.enqueue(
        ScriptedResponse.eventStream()
            .send("id: 1\ndata: a\n\ndata: partial")
            .signal(sent)
            .stall());
    server.enqueue(ScriptedResponse.eventStream().send("\n\ndata: b\n\n").stall());
    try (EventSource source = source().reconnectionTime(Duration.ofMinutes(10)).build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("a");
      assertThat(sent.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      source.restart();
      server.takeRequest();
      assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("1");
      assertThat(recorder.nextEvent().data()).isEqualTo("b");
      assertThat(recorder.failures).isEmpty();
      assertThat(recorder.log).containsExactly("open", "event:a", "open", "event:b");
      assertThat(server.awaitOpenConnections(1, Duration.ofSeconds(5)))
          .as("open connections: %d", server.openConnectionCount())
          .isTrue();
    }
  }

  @Test
  void flappingServerStillDeliversEveryEventExactlyOnceInOrder() {
    int total = 300;
    long seed = System.nanoTime();
    Random random = new Random(seed);
    server.dispatch(
        request -> {
          int last = request.header("Last-Event-ID").map(Integer::parseInt).orElse(0);
          if (last >= total) {
            return ScriptedResponse.eventStream().stall();
          }
          StringBuilder stream = new StringBuilder();
          int end;
          synchronized (random) {
            end = Math.min(total, last + 1 + random.nextInt(5));
          }
          for (int id = last + 1; id <= end; id++) {
            stream.append("id: ").append(id).append("\ndata: event ").append(id).append("\n\n");
          }
          String next = "id: " + (end + 1) + "\ndata: event " + (end + 1) + "\n\n";
          int cut;
          synchronized (random) {
            cut = random.nextInt(next.length() - 1);
          }
          // Drop somewhere inside the next event: never a complete one.
          ScriptedResponse response = ScriptedResponse.eventStream().send(stream.toString());
          if (cut > 0) {
            response.send(next.substring(0, cut));
          }
          return response.drop();
        });
    try (EventSource source = source().build()) {
      source.start();
      List<Event> events = recorder.nextEvents(total);
      List<String> data = new ArrayList<>();
      for (Event event : events) {
        data.add(event.data());
      }
      List<String> expected = new ArrayList<>();
      for (int id = 1; id <= total; id++) {
        expected.add("event " + id);
      }
      assertThat(data).as("seed %d", seed).isEqualTo(expected);
      assertThat(source.lastEventId()).isEqualTo(String.valueOf(total));
      assertThat(server.requestCount()).as("seed %d", seed).isGreaterThan(total / 5);
    }
  }

  @Test
  void backoffGrowsWithRepeatedFailuresUpToTheCap() {
    server.dispatch(request -> ScriptedResponse.status(503));
    try (EventSource source =
        source()
            .reconnectionTime(Duration.ofMillis(20))
            .maxReconnectionDelay(Duration.ofMillis(100))
            .build()) {
      source.start();
      List<Duration> delays = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        delays.add(recorder.nextFailure().retryDelay().orElseThrow());
      }
      assertThat(delays.get(0)).isEqualTo(Duration.ofMillis(20));
      assertThat(delays.get(1)).isBetween(Duration.ofMillis(20), Duration.ofMillis(40));
      assertThat(delays.get(2)).isBetween(Duration.ofMillis(40), Duration.ofMillis(80));
      assertThat(delays.subList(3, 6))
          .allSatisfy(d -> assertThat(d).isBetween(Duration.ofMillis(50), Duration.ofMillis(100)));
    }
  }

  @Test
  void backoffStartsOverAfterAHealthyConnection() {
    server.dispatch(request -> ScriptedResponse.eventStream().send("data: x\n\n").drop());
    try (EventSource source =
        source()
            .reconnectionTime(Duration.ofMillis(20))
            .maxReconnectionDelay(Duration.ofSeconds(10))
            .backoffResetAfter(Duration.ZERO)
            .build()) {
      source.start();
      for (int i = 0; i < 5; i++) {
        assertThat(recorder.nextFailure().retryDelay()).hasValue(Duration.ofMillis(20));
      }
    }
  }

  @Test
  void connectionsThatDieYoungKeepBackingOff() {
    server.dispatch(request -> ScriptedResponse.eventStream().send("data: x\n\n").drop());
    try (EventSource source =
        source()
            .reconnectionTime(Duration.ofMillis(20))
            .maxReconnectionDelay(Duration.ofSeconds(10))
            .backoffResetAfter(Duration.ofHours(1))
            .build()) {
      source.start();
      recorder.nextFailure();
      recorder.nextFailure();
      assertThat(recorder.nextFailure().retryDelay().orElseThrow())
          .isGreaterThanOrEqualTo(Duration.ofMillis(40));
    }
  }

  @Test
  void closeDuringTheBackoffWaitCancelsTheReconnection() throws Exception {
    server.enqueue(ScriptedResponse.status(503));
    EventSource source = source().reconnectionTime(Duration.ofMillis(300)).build();
    source.start();
    assertThat(recorder.nextFailure().retryDelay()).hasValue(Duration.ofMillis(300));
    source.close();
    recorder.awaitClosed();
    server.enqueue(ScriptedResponse.eventStream().stall());
    // Had the reconnection not been cancelled, it would arrive within this wait.
    assertThat(recorder.events.poll(600, java.util.concurrent.TimeUnit.MILLISECONDS)).isNull();
    assertThat(server.requestCount()).isEqualTo(1);
  }

  @Test
  void aRecordedRequestShowsWhichConnectionCarriedIt() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").end());
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.start();
      RecordedRequest first = server.takeRequest();
      RecordedRequest second = server.takeRequest();
      // A cleanly ended response leaves the connection reusable, and the client reuses it.
      assertThat(second.connection()).isEqualTo(first.connection());
    }
  }
}
