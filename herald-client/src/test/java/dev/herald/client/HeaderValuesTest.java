package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Header values in and out: Retry-After, Content-Type, Last-Event-ID. */
class HeaderValuesTest {
  private static final Instant NOW = Instant.parse("2015-10-21T07:28:00Z");

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "120 | PT2M",
        "0 | PT0S",
        "' 7 ' | PT7S",
        "99999999999999999999 | PT24H",
        "Wed, 21 Oct 2015 07:29:30 GMT | PT1M30S",
        "Wed, 21 Oct 2015 07:00:00 GMT | PT0S",
        "Mon, 26 Oct 2015 07:28:00 GMT | PT24H",
        "soon | ",
        "-5 | ",
        "1.5 | "
      })
  void parsesRetryAfterAsSecondsOrHttpDate(String value, Duration expected) {
    HttpHeaders headers = HttpHeaders.of(Map.of("Retry-After", List.of(value)), (name, v) -> true);
    assertThat(SseHttpException.parseRetryAfter(headers, NOW).orElse(null)).isEqualTo(expected);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "text/event-stream | true",
        "Text/Event-Stream;charset=UTF-8 | true",
        "'  text/event-stream  ;  x=1' | true",
        "text/event-streams | false",
        "text/plain | false",
        "'' | false"
      })
  void recognisesEventStreamMediaTypes(String contentType, boolean expected) {
    assertThat(Connector.isEventStream(contentType)).isEqualTo(expected);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "42 | 42",
        "a b%c~ | a b%c~",
        "é | %C3%A9",
        "100% é | 100%25%20%C3%A9",
        "😀 | %F0%9F%98%80"
      })
  void lastEventIdIsSentVerbatimWhenAsciiElsePercentEncoded(String id, String header) {
    assertThat(LastEventIdHeader.value(id)).isEqualTo(header);
  }

  @org.junit.jupiter.api.Test
  void controlCharactersOtherThanTabAreEncoded() {
    assertThat(LastEventIdHeader.value("a\tb")).isEqualTo("a\tb");
    assertThat(LastEventIdHeader.value("a\u0001b\u007f")).isEqualTo("a%01b%7F");
  }
}
