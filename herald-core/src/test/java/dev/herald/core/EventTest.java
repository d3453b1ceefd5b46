package dev.herald.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An event that exists can always be written: ids and types that could inject fields of their own
 * (the header-injection bug class) are refused when the event is built, naming the field.
 */
class EventTest {

  @ParameterizedTest(name = "id {0}")
  @ValueSource(
      strings = {
        "1\nevent: admin",
        "1\r\ndata: pwned",
        "1\rretry: 1",
        "\n",
        "\r",
        "a\u0000b",
        "\u0000",
        "42\n\ndata: second event"
      })
  void refusesIdsThatCouldInjectFields(String id) {
    assertThatThrownBy(() -> Event.builder().id(id))
        .isInstanceOfSatisfying(
            InvalidEventException.class, e -> assertThat(e.field()).isEqualTo("id"))
        .hasMessageContaining("id");
    assertThatThrownBy(() -> Event.of("x").withId(id))
        .isInstanceOfSatisfying(
            InvalidEventException.class, e -> assertThat(e.field()).isEqualTo("id"));
  }

  @ParameterizedTest(name = "type {0}")
  @ValueSource(strings = {"t\ndata: pwned", "t\r\nid: 1", "t\r", "\n", ""})
  void refusesTypesThatCouldInjectFieldsOrAreEmpty(String type) {
    assertThatThrownBy(() -> Event.builder().type(type))
        .isInstanceOfSatisfying(
            InvalidEventException.class, e -> assertThat(e.field()).isEqualTo("type"))
        .hasMessageContaining("type");
    assertThatThrownBy(() -> Event.of(type, "x"))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageContaining("type");
  }

  @Test
  void refusesANegativeRetry() {
    assertThatThrownBy(() -> Event.builder().retry(Duration.ofMillis(-1)))
        .isInstanceOfSatisfying(
            InvalidEventException.class, e -> assertThat(e.field()).isEqualTo("retry"))
        .hasMessageContaining("retry");
  }

  @ParameterizedTest(name = "id {0}")
  @ValueSource(strings = {"", " ", "a b", "\t", "\u2028", "\u0085", "é😀", "x:y", "\uFEFF"})
  void acceptsAndRoundTripsIdsWithoutCrLfOrNul(String id) {
    Event event = Event.builder().id(id).data("d").build();
    assertThat(event.id()).contains(id);
    ParserHarness.Outcome outcome = ParserHarness.parse(SseEncoder.encode(event), "previous");
    assertThat(outcome.lastEventId()).isEqualTo(id);
  }

  @Test
  void dataCannotInjectFieldsOrEvents() {
    Event event = Event.of("x\n\nevent: admin\nid: 666\ndata: pwned\n\n");
    ParserHarness.Outcome outcome = ParserHarness.parse(SseEncoder.encode(event));
    assertThat(outcome.seen())
        .containsExactly(Recorder.ev("x\n\nevent: admin\nid: 666\ndata: pwned\n\n"));
    assertThat(outcome.lastEventId()).isEmpty();
  }

  @Test
  void commentsCannotInjectEvents() {
    byte[] lines = SseEncoder.encode(new Comment("\n\ndata: pwned\n\n"));
    ParserHarness.Outcome outcome =
        ParserHarness.parse(ParserHarness.concat(lines, "\n".getBytes()));
    assertThat(outcome.seen()).noneMatch(s -> s instanceof Recorder.Ev);
  }

  @Test
  void hasDefaultsAndCopiesWithChanges() {
    Event plain = Event.of("d");
    assertThat(plain.type()).isEqualTo(Event.DEFAULT_TYPE);
    assertThat(plain.id()).isEmpty();
    assertThat(plain.retry()).isEmpty();
    Event typed = Event.of("t", "d");
    assertThat(typed.type()).isEqualTo("t");
    Event withId = typed.withId("5");
    assertThat(withId.id()).contains("5");
    assertThat(withId.type()).isEqualTo("t");
    assertThat(typed.id()).as("the original is unchanged").isEmpty();
    assertThat(withId.toBuilder().noId().build()).isEqualTo(typed);
    assertThat(withId).isEqualTo(Event.builder().type("t").data("d").id("5").build());
    assertThat(withId).hasSameHashCodeAs(Event.builder().type("t").data("d").id("5").build());
    assertThat(withId).isNotEqualTo(typed);
    assertThat(Event.builder().data("d").retry(Duration.ofSeconds(1)).build()).isNotEqualTo(plain);
  }

  @Test
  void refusesNulls() {
    assertThatThrownBy(() -> Event.builder().id(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Event.builder().type(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Event.builder().data(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Event.builder().retry(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> new Comment(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void toStringShowsFieldsAndShortensLongData() {
    Event event = Event.builder().id("7").type("t").data("x".repeat(100)).build();
    assertThat(event.toString())
        .contains("id=7", "type=t", "x".repeat(64) + "...(100 chars)")
        .doesNotContain("x".repeat(65));
  }
}
