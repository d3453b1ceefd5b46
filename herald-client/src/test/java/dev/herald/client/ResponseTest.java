package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.testing.ScriptedResponse;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** How each kind of response is treated: open, close for good, retry, or fail. */
@Timeout(30)
class ResponseTest extends ScriptedSourceTest {
  @Test
  void noContentClosesForGoodWithoutAnError() throws Exception {
    server.enqueue(ScriptedResponse.status(204));
    try (EventSource source = source().build()) {
      source.start();
      recorder.awaitClosed();
      assertThat(source.readyState()).isEqualTo(EventSource.ReadyState.CLOSED);
      assertThat(recorder.log).containsExactly("closed");
      assertThat(server.requestCount()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {400, 401, 403, 404, 405, 410, 422})
  void clientErrorsCloseTheSourceWithTheStatusAndBody(int status) throws Exception {
    String body = "{\"error\": \"topic_not_allowed\", \"message\": \"no\"}";
    server.enqueue(
        ScriptedResponse.status(status)
            .header("Content-Type", "application/json")
            .header("X-Reason", "test")
            .body(body));
    try (EventSource source = source().build()) {
      source.start();
      Recorder.Failure failure = recorder.nextFailure();
      recorder.awaitClosed();
      assertThat(failure.retryDelay()).isEmpty();
      assertThat(failure.error()).isExactlyInstanceOf(SseHttpException.class);
      SseHttpException error = (SseHttpException) failure.error();
      assertThat(error.statusCode()).isEqualTo(status);
      assertThat(error.body()).isEqualTo(body);
      assertThat(error.headers().firstValue("X-Reason")).hasValue("test");
      assertThat(error.uri()).isEqualTo(server.uri("/events"));
      assertThat(error.getMessage())
          .isEqualTo("GET " + server.uri("/events") + " answered " + status + ": " + body);
      assertThat(recorder.log).containsExactly("error", "closed");
      assertThat(server.requestCount()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {500, 502, 503, 504})
  void serverErrorsAreRetried(int status) {
    server.enqueue(ScriptedResponse.status(status).body("busy"));
    server.enqueue(ScriptedResponse.status(status));
    server.enqueue(ScriptedResponse.eventStream().send("data: back\n\n").stall());
    try (EventSource source = source().build()) {
      source.start();
      for (int i = 0; i < 2; i++) {
        Recorder.Failure failure = recorder.nextFailure();
        assertThat(((SseHttpException) failure.error()).statusCode()).isEqualTo(status);
        assertThat(failure.retryDelay()).hasValue(Duration.ZERO);
      }
      assertThat(recorder.nextEvent().data()).isEqualTo("back");
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {408, 429})
  void timeoutAndTooManyRequestsCloseTheSourceByDefaultDespiteRetryAfter(int status)
      throws Exception {
    server.enqueue(
        ScriptedResponse.status(status)
            .header("Retry-After", "0")
            .header("Content-Type", "application/json")
            .body("{\"error\": \"rate_limited\", \"message\": \"slow down\"}"));
    server.enqueue(ScriptedResponse.eventStream().send("data: never\n\n").stall());
    try (EventSource source = source().build()) {
      source.start();
      Recorder.Failure failure = recorder.nextFailure();
      recorder.awaitClosed();
      assertThat(failure.retryDelay()).isEmpty();
      assertThat(((SseHttpException) failure.error()).statusCode()).isEqualTo(status);
      assertThat(recorder.log).containsExactly("error", "closed");
      assertThat(server.requestCount()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {408, 429})
  void retryingThrottledWaitsForRetryAfterSecondsOnTimeoutAndTooManyRequests(int status) {
    server.enqueue(ScriptedResponse.status(status).header("Retry-After", "1"));
    server.enqueue(ScriptedResponse.eventStream().send("data: back\n\n").stall());
    try (EventSource source = source().errorPolicy(ErrorPolicy.retryingThrottled()).build()) {
      source.start();
      long first = System.nanoTime();
      server.takeRequest();
      Recorder.Failure failure = recorder.nextFailure();
      assertThat(failure.retryDelay()).hasValue(Duration.ofSeconds(1));
      assertThat(((SseHttpException) failure.error()).retryAfter()).hasValue(Duration.ofSeconds(1));
      server.takeRequest();
      assertThat(Duration.ofNanos(System.nanoTime() - first)).isGreaterThan(Duration.ofMillis(900));
      assertThat(recorder.nextEvent().data()).isEqualTo("back");
    }
  }

  @Test
  void retryAfterMayBeAnHttpDate() {
    String inThreeSeconds =
        DateTimeFormatter.RFC_1123_DATE_TIME.format(
            ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(3));
    server.enqueue(ScriptedResponse.status(503).header("Retry-After", inThreeSeconds));
    try (EventSource source = source().build()) {
      source.start();
      Duration delay = recorder.nextFailure().retryDelay().orElseThrow();
      // The date has whole seconds: between 2 and 3 seconds remain.
      assertThat(delay).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(3));
    }
  }

  @Test
  void wrongContentTypeClosesTheSource() throws Exception {
    server.enqueue(
        ScriptedResponse.status(200).header("Content-Type", "text/html").body("<html></html>"));
    try (EventSource source = source().build()) {
      source.start();
      Recorder.Failure failure = recorder.nextFailure();
      recorder.awaitClosed();
      assertThat(failure.retryDelay()).isEmpty();
      SseContentTypeException error = (SseContentTypeException) failure.error();
      assertThat(error.contentType()).hasValue("text/html");
      assertThat(error.statusCode()).isEqualTo(200);
      assertThat(error.getMessage()).contains("with Content-Type text/html, not text/event-stream");
      assertThat(server.requestCount()).isEqualTo(1);
    }
  }

  @Test
  void missingContentTypeClosesTheSource() throws Exception {
    server.enqueue(ScriptedResponse.status(200).body("data: x\n\n"));
    try (EventSource source = source().build()) {
      source.start();
      SseContentTypeException error = (SseContentTypeException) recorder.nextFailure().error();
      recorder.awaitClosed();
      assertThat(error.contentType()).isEmpty();
      assertThat(error.getMessage()).contains("without a Content-Type");
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "text/event-stream;charset=utf-8",
        "TEXT/Event-Stream",
        " text/event-stream ; x=y"
      })
  void contentTypeParametersAndCaseAreIgnored(String contentType) {
    server.enqueue(
        ScriptedResponse.status(200)
            .header("Content-Type", contentType)
            .send("data: ok\n\n")
            .stall());
    try (EventSource source = source().build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("ok");
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {201, 202, 206, 300, 304})
  void otherStatusesFailTheConnection(int status) throws Exception {
    server.enqueue(ScriptedResponse.status(status).header("Content-Type", "text/event-stream"));
    try (EventSource source = source().build()) {
      source.start();
      SseHttpException error = (SseHttpException) recorder.nextFailure().error();
      recorder.awaitClosed();
      assertThat(error.statusCode()).isEqualTo(status);
    }
  }

  @Test
  void aCustomPolicyCanRetryWhatTheStandardOneWouldNot() {
    server.enqueue(ScriptedResponse.status(404));
    server.enqueue(ScriptedResponse.eventStream().send("data: found\n\n").stall());
    ErrorPolicy retry404 =
        (error, delay) ->
            error instanceof SseHttpException && ((SseHttpException) error).statusCode() == 404
                ? Optional.of(Duration.ZERO)
                : ErrorPolicy.standard().retryDelay(error, delay);
    try (EventSource source = source().errorPolicy(retry404).build()) {
      source.start();
      assertThat(recorder.nextFailure().retryDelay()).hasValue(Duration.ZERO);
      assertThat(recorder.nextEvent().data()).isEqualTo("found");
    }
  }

  @Test
  void aPolicyCanStopOnTheEndOfTheStream() throws Exception {
    server.enqueue(ScriptedResponse.eventStream().send("data: only\n\n").end());
    try (EventSource source = source().errorPolicy((error, delay) -> Optional.empty()).build()) {
      source.start();
      assertThat(recorder.nextEvent().data()).isEqualTo("only");
      recorder.awaitClosed();
      assertThat(recorder.log).containsExactly("open", "event:only", "error", "closed");
    }
  }

  @Test
  void standardPolicyRetriesServerErrorsAndNetworkFailuresButNoClientError() {
    ErrorPolicy policy = ErrorPolicy.standard();
    Duration delay = Duration.ofSeconds(2);
    assertThat(policy.retryDelay(new java.io.IOException("reset"), delay)).hasValue(delay);
    assertThat(policy.retryDelay(httpError(503), delay)).hasValue(delay);
    for (int status = 400; status < 500; status++) {
      assertThat(policy.retryDelay(httpError(status), delay)).as("status %d", status).isEmpty();
    }
    assertThat(policy.retryDelay(httpError(302), delay)).isEmpty();
  }

  @Test
  void retryingThrottledPolicyRetriesOnlyTimeoutAndTooManyRequestsBeyondTheStandardOne() {
    ErrorPolicy policy = ErrorPolicy.retryingThrottled();
    Duration delay = Duration.ofSeconds(2);
    assertThat(policy.retryDelay(httpError(408), delay)).hasValue(delay);
    assertThat(policy.retryDelay(httpError(429), delay)).hasValue(delay);
    assertThat(policy.retryDelay(httpError(503), delay)).hasValue(delay);
    assertThat(policy.retryDelay(new java.io.IOException("reset"), delay)).hasValue(delay);
    for (int status : new int[] {302, 400, 401, 403, 404, 410, 422}) {
      assertThat(policy.retryDelay(httpError(status), delay)).as("status %d", status).isEmpty();
    }
  }

  private SseHttpException httpError(int status) {
    return new SseHttpException(
        "test",
        status,
        java.net.http.HttpHeaders.of(java.util.Map.of(), (a, b) -> true),
        server.uri("/"),
        "");
  }
}
