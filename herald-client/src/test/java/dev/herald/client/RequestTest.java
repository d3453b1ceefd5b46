package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.client.testing.RecordedRequest;
import dev.herald.client.testing.ScriptedResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What goes over the wire: method, headers, body, Last-Event-ID. */
@Timeout(30)
class RequestTest extends ScriptedSourceTest {
  RequestTest() {
    super("/events?topic=t");
  }

  @Test
  void sendsGetWithEventStreamHeadersAndNoLastEventId() {
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.start();
      RecordedRequest request = server.takeRequest();
      assertThat(request.method()).isEqualTo("GET");
      assertThat(request.target()).isEqualTo("/events?topic=t");
      assertThat(request.header("Accept")).hasValue("text/event-stream");
      assertThat(request.header("Cache-Control")).hasValue("no-cache");
      assertThat(request.header("Last-Event-ID")).isEmpty();
      assertThat(request.body()).isEmpty();
    }
  }

  @Test
  void sendsCustomHeadersOnEveryConnection() {
    server.enqueue(ScriptedResponse.eventStream().send("data: a\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source =
        source()
            .header("Authorization", "Bearer abc")
            .header("X-Multi", "one")
            .header("X-Multi", "two")
            .header("Accept", "text/event-stream, application/json;q=0.5")
            .build()) {
      source.start();
      for (int i = 0; i < 2; i++) {
        RecordedRequest request = server.takeRequest();
        assertThat(request.header("Authorization")).hasValue("Bearer abc");
        assertThat(request.headerValues("X-Multi")).containsExactly("one", "two");
        assertThat(request.headerValues("Accept"))
            .containsExactly("text/event-stream, application/json;q=0.5");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "REPORT"})
  void sendsMethodAndBodyAgainOnEveryReconnection(String method) {
    String body = "{\"hello\": \"world\"}";
    server.enqueue(ScriptedResponse.eventStream().send("id: 1\ndata: a\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().send("data: b\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source =
        source()
            .method(method, body)
            .header("Content-Type", "application/json; charset=utf-8")
            .build()) {
      source.start();
      for (int i = 0; i < 3; i++) {
        RecordedRequest request = server.takeRequest();
        assertThat(request.method()).isEqualTo(method);
        assertThat(request.bodyText()).isEqualTo(body);
        assertThat(request.headerValues("Content-Type"))
            .containsExactly("application/json; charset=utf-8");
        assertThat(request.header("Last-Event-ID"))
            .isEqualTo(i == 0 ? java.util.Optional.empty() : java.util.Optional.of("1"));
      }
    }
  }

  @Test
  void bodyWithoutContentTypeIsSentAsPlainText() {
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().method("post", "hello").build()) {
      source.start();
      RecordedRequest request = server.takeRequest();
      assertThat(request.method()).isEqualTo("POST");
      assertThat(request.header("Content-Type")).hasValue("text/plain; charset=utf-8");
      assertThat(request.bodyText()).isEqualTo("hello");
    }
  }

  @Test
  void sendsPresetLastEventIdOnTheFirstRequestAndCarriesItOnToEvents() {
    server.enqueue(ScriptedResponse.eventStream().send("data: no id here\n\n").stall());
    try (EventSource source = source().lastEventId("41").build()) {
      assertThat(source.lastEventId()).isEqualTo("41");
      source.start();
      assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("41");
      assertThat(recorder.nextEvent().id()).hasValue("41");
    }
  }

  @Test
  void sendsAsciiIdsUnchangedAndPercentEncodesOthers() {
    String id = "café €5 100%";
    server.enqueue(
        ScriptedResponse.eventStream()
            .send(("id: " + id + "\ndata: x\n\n").getBytes(StandardCharsets.UTF_8))
            .drop());
    server.enqueue(ScriptedResponse.eventStream().send("id: plain%20id\ndata: y\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.start();
      assertThat(server.takeRequest().header("Last-Event-ID")).isEmpty();
      // The id itself is untouched; only its header form is encoded.
      assertThat(recorder.nextEvent().id()).hasValue(id);
      byte[] sent = server.takeRequest().headerBytes("Last-Event-ID").orElseThrow();
      assertThat(new String(sent, StandardCharsets.US_ASCII))
          .isEqualTo("caf%C3%A9%20%E2%82%AC5%20100%25");
      assertThat(recorder.nextEvent().id()).hasValue("plain%20id");
      assertThat(server.takeRequest().header("Last-Event-ID")).hasValue("plain%20id");
    }
  }

  @Test
  void refusesConfigurationThatCouldNeverWork() {
    assertThatThrownBy(() -> EventSource.builder(URI.create("ftp://example.com/x")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> EventSource.builder(URI.create("/relative")))
        .isInstanceOf(IllegalArgumentException.class);
    EventSource.Builder builder = EventSource.builder(server.uri("/"));
    assertThatThrownBy(() -> builder.header("Last-Event-ID", "1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lastEventId");
    assertThatThrownBy(() -> builder.header("Host", "elsewhere"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.header("X-Bad", "a\r\nInjected: yes"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.method("NOT A TOKEN"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.lastEventId("a\nb"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.reconnectionTime(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.maxEventBytes(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void consumingASourceTwiceIsRefused() {
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.start();
      assertThatThrownBy(source::start).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(source::events).isInstanceOf(IllegalStateException.class);
    }
  }
}
