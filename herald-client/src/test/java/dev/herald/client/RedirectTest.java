package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.RecordedRequest;
import dev.herald.client.testing.ScriptedResponse;
import dev.herald.client.testing.ScriptedServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Redirects, followed by the source itself under the fetch rules. */
@Timeout(30)
class RedirectTest extends ScriptedSourceTest {
  RedirectTest() {
    super("/start");
  }

  @ParameterizedTest
  @ValueSource(ints = {301, 302, 303, 307, 308})
  void followsRedirectsAndReconnectsToTheOriginalUri(int status) {
    server.enqueue(ScriptedResponse.status(status).header("Location", "/moved?x=1"));
    server.enqueue(ScriptedResponse.eventStream().send("id: 1\ndata: moved\n\n").drop());
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source = source().build()) {
      source.start();
      assertThat(server.takeRequest().target()).isEqualTo("/start");
      RecordedRequest redirected = server.takeRequest();
      assertThat(redirected.target()).isEqualTo("/moved?x=1");
      assertThat(redirected.method()).isEqualTo("GET");
      assertThat(redirected.header("Accept")).hasValue("text/event-stream");
      assertThat(recorder.nextEvent().data()).isEqualTo("moved");
      RecordedRequest reconnect = server.takeRequest();
      assertThat(reconnect.target()).isEqualTo("/start");
      assertThat(reconnect.header("Last-Event-ID")).hasValue("1");
    }
  }

  @ParameterizedTest
  @CsvSource({
    "POST, 301, GET",
    "POST, 302, GET",
    "POST, 303, GET",
    "POST, 307, POST",
    "POST, 308, POST",
    "REPORT, 301, REPORT",
    "REPORT, 302, REPORT",
    "REPORT, 303, GET",
    "REPORT, 307, REPORT"
  })
  void redirectsChangeMethodAndBodyAsFetchDoes(String method, int status, String expected) {
    server.enqueue(ScriptedResponse.status(status).header("Location", "/moved"));
    server.enqueue(ScriptedResponse.eventStream().stall());
    try (EventSource source =
        source().method(method, "{\"q\": 1}").header("Content-Type", "application/json").build()) {
      source.start();
      assertThat(server.takeRequest().method()).isEqualTo(method);
      RecordedRequest redirected = server.takeRequest();
      assertThat(redirected.method()).isEqualTo(expected);
      if (expected.equals("GET")) {
        assertThat(redirected.body()).isEmpty();
        assertThat(redirected.header("Content-Type")).isEmpty();
      } else {
        assertThat(redirected.bodyText()).isEqualTo("{\"q\": 1}");
        assertThat(redirected.header("Content-Type")).hasValue("application/json");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {301, 302, 303, 307, 308})
  void redirectWithoutLocationIsAnError(int status) throws Exception {
    server.enqueue(ScriptedResponse.status(status));
    try (EventSource source = source().build()) {
      source.start();
      SseHttpException error = (SseHttpException) recorder.nextFailure().error();
      recorder.awaitClosed();
      assertThat(error.statusCode()).isEqualTo(status);
      assertThat(error.getMessage()).contains("without a Location header");
      assertThat(server.requestCount()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"ftp://example.com/file", "http://[broken", "mailto:someone@example.com"})
  void redirectToAnUnusableLocationIsAnError(String location) throws Exception {
    server.enqueue(ScriptedResponse.status(302).header("Location", location));
    try (EventSource source = source().build()) {
      source.start();
      SseHttpException error = (SseHttpException) recorder.nextFailure().error();
      recorder.awaitClosed();
      assertThat(error.getMessage()).contains("with an unusable Location: " + location);
    }
  }

  @Test
  void followsTwentyRedirectsButNotTwentyOne() throws Exception {
    for (int i = 1; i <= 20; i++) {
      server.enqueue(ScriptedResponse.status(307).header("Location", "/hop" + i));
    }
    server.enqueue(ScriptedResponse.eventStream().send("data: arrived\n\n").drop());
    for (int i = 1; i <= 21; i++) {
      server.enqueue(ScriptedResponse.status(307).header("Location", "/again" + i));
    }
    try (EventSource source = source().build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("arrived");
      assertThat(recorder.nextFailure().retryDelay()).as("the drop").isPresent();
      SseHttpException error = (SseHttpException) recorder.nextFailure().error();
      recorder.awaitClosed();
      assertThat(error.getMessage()).contains("after 20 redirects");
      assertThat(error.uri()).isEqualTo(server.uri("/again20"));
      // Each attempt: the original request and 20 redirected ones.
      assertThat(server.requestCount()).isEqualTo(21 + 21);
    }
  }

  @Test
  void crossOriginRedirectDropsCredentialsSameOriginKeepsThem() {
    try (ScriptedServer other = ScriptedServer.start()) {
      server.enqueue(ScriptedResponse.status(307).header("Location", "/same"));
      server.enqueue(
          ScriptedResponse.status(307).header("Location", other.uri("/elsewhere").toString()));
      other.enqueue(ScriptedResponse.eventStream().stall());
      try (EventSource source =
          source().header("Authorization", "Bearer secret").header("X-Trace", "t1").build()) {
        source.start();
        assertThat(server.takeRequest().header("Authorization")).hasValue("Bearer secret");
        assertThat(server.takeRequest().header("Authorization")).hasValue("Bearer secret");
        RecordedRequest elsewhere = other.takeRequest();
        assertThat(elsewhere.header("Authorization")).isEmpty();
        assertThat(elsewhere.header("X-Trace")).hasValue("t1");
      }
    }
  }
}
