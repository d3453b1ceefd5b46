package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.ScriptedResponse;
import dev.herald.core.Event;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The event stream as it arrives over real sockets: framing, splits, drops, sizes. */
@Timeout(60)
class StreamingTest extends ScriptedSourceTest {
  private EventSource source;

  // Runs before the base class closes the server.
  @AfterEach
  void stopSource() {
    if (source != null) {
      source.close();
    }
  }

  private EventSource start() {
    source = source().build();
    source.start();
    return source;
  }

  @Test
  void deliversEventsCommentsAndOpenInOrder() {
    server.enqueue(
        ScriptedResponse.eventStream()
            .send(": welcome\n\n")
            .send("id: 1\nevent: price\ndata: {\"eur\": 1.08}\n\n")
            .send("data: line one\ndata: line two\n\n")
            .stall());
    start();
    Event price = recorder.nextEvent();
    assertThat(price.id()).hasValue("1");
    assertThat(price.type()).isEqualTo("price");
    assertThat(price.data()).isEqualTo("{\"eur\": 1.08}");
    Event message = recorder.nextEvent();
    assertThat(message.type()).isEqualTo("message");
    assertThat(message.data()).isEqualTo("line one\nline two");
    assertThat(message.id()).as("the last event ID carries on").hasValue("1");
    assertThat(recorder.log)
        .startsWith(
            "open", "comment: welcome", "event:{\"eur\": 1.08}", "event:line one\nline two");
    assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.OPEN);
    assertThat(source.lastEventId()).isEqualTo("1");
    assertThat(recorder.threads).allMatch(name -> name.startsWith("herald-client-worker-"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"\n", "\r", "\r\n"})
  void parsesEveryLineEndingSplitAtEveryByte(String eol) {
    String stream =
        ": c"
            + eol
            + "id: 7"
            + eol
            + "event: e"
            + eol
            + "data: a"
            + eol
            + "data: b"
            + eol
            + eol
            + "data: é€😀"
            + eol
            + eol;
    ScriptedResponse response = ScriptedResponse.eventStream();
    byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
    for (byte b : bytes) {
      response.send(new byte[] {b});
    }
    server.enqueue(response.stall());
    start();
    Event first = recorder.nextEvent();
    assertThat(first.type()).isEqualTo("e");
    assertThat(first.data()).isEqualTo("a\nb");
    assertThat(first.id()).hasValue("7");
    assertThat(recorder.nextEvent().data()).isEqualTo("é€😀");
    assertThat(recorder.nextComment()).isEqualTo(" c");
  }

  @Test
  void stripsTheBomOncePerConnection() {
    byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    byte[] frame = "data: first\n\n".getBytes(StandardCharsets.UTF_8);
    byte[] withBom = concat(bom, frame);
    server.enqueue(
        ScriptedResponse.eventStream()
            .send(withBom)
            .send(concat(bom, "data: second\n\n".getBytes(StandardCharsets.UTF_8)))
            .drop());
    server.enqueue(ScriptedResponse.eventStream().send(withBom).stall());
    start();
    assertThat(recorder.nextEvent().data()).isEqualTo("first");
    // A second BOM is not a BOM: the line is "\uFEFFdata", an unknown field, so no event.
    assertThat(recorder.nextFailure().error()).isInstanceOf(IOException.class);
    assertThat(recorder.nextEvent().data())
        .as("the new connection strips its own BOM")
        .isEqualTo("first");
    assertThat(recorder.log).doesNotContain("event:second");
  }

  @Test
  void discardsTheEventCutOffByADropAndForgetsItsId() {
    server.enqueue(
        ScriptedResponse.eventStream()
            .send("id: 1\ndata: complete\n\n")
            .send("id: 2\ndata: cut off")
            .drop());
    server.enqueue(ScriptedResponse.eventStream().send("data: after\n\n").stall());
    start();
    assertThat(server.takeRequest().header("Last-Event-ID")).isEmpty();
    assertThat(recorder.nextEvent().data()).isEqualTo("complete");
    assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("1");
    Event after = recorder.nextEvent();
    assertThat(after.data()).isEqualTo("after");
    assertThat(after.id()).hasValue("1");
    assertThat(recorder.log).noneMatch(entry -> entry.contains("cut off"));
  }

  @Test
  void dropAfterAnIdOnlyBlockResumesFromThatId() {
    server.enqueue(
        ScriptedResponse.eventStream().send("id: 1\ndata: a\n\nid: 5\n\nid: 6\ndata: cut").drop());
    server.enqueue(ScriptedResponse.eventStream().stall());
    start();
    server.takeRequest();
    assertThat(recorder.nextEvent().data()).isEqualTo("a");
    assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("5");
    assertThat(source.lastEventId()).isEqualTo("5");
  }

  @Test
  void streamEndedByTheServerIsReportedAndReconnected() {
    server.enqueue(ScriptedResponse.eventStream().send("id: 3\ndata: x\n\ndata: partial").end());
    server.enqueue(
        ScriptedResponse.eventStream().closeDelimited().send("data: y\n\ndata: partial").end());
    server.enqueue(ScriptedResponse.eventStream().stall());
    start();
    assertThat(recorder.nextEvent().data()).isEqualTo("x");
    Recorder.Failure end = recorder.nextFailure();
    assertThat(end.error()).isInstanceOf(EOFException.class);
    assertThat(end.retryDelay()).hasValue(Duration.ZERO);
    assertThat(recorder.nextEvent().data()).isEqualTo("y");
    assertThat(recorder.nextFailure().error()).isInstanceOf(EOFException.class);
    recorder.nextOpen();
    recorder.nextOpen();
    recorder.nextOpen();
    assertThat(recorder.log).noneMatch(entry -> entry.contains("partial"));
  }

  @Test
  void deliversAnEventOfSixteenMebibytes() {
    int size = 16 * 1024 * 1024;
    byte[] data = new byte[size];
    for (int i = 0; i < size; i++) {
      data[i] = (byte) ('a' + i % 26);
    }
    server.enqueue(
        ScriptedResponse.eventStream()
            .produce(
                writer -> {
                  writer.send("data: ");
                  for (int off = 0; off < size; off += 65536) {
                    writer.send(Arrays.copyOfRange(data, off, Math.min(size, off + 65536)));
                  }
                  writer.send("\n\ndata: small\n\n");
                })
            .stall());
    start();
    Event huge = recorder.nextEvent();
    assertThat(huge.data()).hasSize(size);
    assertThat(huge.data().getBytes(StandardCharsets.US_ASCII)).isEqualTo(data);
    assertThat(recorder.nextEvent().data()).isEqualTo("small");
  }

  @Test
  void eventOverTheLimitFailsTheConnectionAndReconnects() {
    server.enqueue(
        ScriptedResponse.eventStream().send("data: " + "x".repeat(100) + "\n\n").stall());
    server.enqueue(ScriptedResponse.eventStream().send("data: ok\n\n").stall());
    try (EventSource source =
        EventSource.builder(server.uri("/"))
            .reconnectionTime(Duration.ZERO)
            .maxEventBytes(64)
            .listener(recorder)
            .build()) {
      source.start();
      assertThat(recorder.nextFailure().error())
          .isInstanceOf(dev.herald.core.SseLimitExceededException.class);
      assertThat(recorder.nextEvent().data()).isEqualTo("ok");
    }
  }

  @Test
  void retryFieldChangesTheReconnectionTimeForLaterConnections() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    server.enqueue(ScriptedResponse.eventStream().send("retry: 0\ndata: a\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().send("data: b\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().await(never));
    try (EventSource source =
        EventSource.builder(server.uri("/"))
            .reconnectionTime(Duration.ofMinutes(10))
            .listener(recorder)
            .build()) {
      source.start();
      // With the configured 10 minutes, neither reconnection could happen within the test.
      assertThat(recorder.nextEvent().data()).isEqualTo("a");
      assertThat(recorder.nextFailure().retryDelay()).hasValue(Duration.ZERO);
      assertThat(recorder.nextEvent().data()).isEqualTo("b");
      assertThat(recorder.nextFailure().retryDelay()).hasValue(Duration.ZERO);
      assertThat(server.takeRequest().sequence()).isEqualTo(1);
      assertThat(server.takeRequest().sequence()).isEqualTo(2);
      assertThat(server.takeRequest().sequence()).isEqualTo(3);
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
