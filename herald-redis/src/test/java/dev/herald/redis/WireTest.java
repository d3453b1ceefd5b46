package dev.herald.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.server.StoredEvent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Notifications as publish.lua lays them out: several events, data measured in UTF-8 bytes. */
class WireTest {
  /** One event as the script writes it (its data length is Lua's {@code #data}: bytes). */
  private static String event(long id, String topics, int topicCount, String data) {
    return id
        + "\n1700000000000\nmessage\n\n"
        + topicCount
        + "\n"
        + topics
        + "\n"
        + data.getBytes(StandardCharsets.UTF_8).length
        + "\n"
        + data;
  }

  @Test
  void readsEveryEventOfARunWhateverItsDataHolds() {
    List<String> data =
        List.of(
            "plain",
            "",
            "two\nlines\r\nand a NUL \0 here",
            "é ü ß", // two bytes each
            "€ 中文", // three
            "emoji 😀 and 𝄞", // four, a surrogate pair in Java
            "3\n1700000000000\nmessage\n\n1\nt\n1\nx"); // looks like an event
    StringBuilder payload = new StringBuilder();
    for (int i = 0; i < data.size(); i++) {
      payload.append(
          i % 2 == 0 ? event(10 + i, "t", 1, data.get(i)) : event(10 + i, "t\nu", 2, data.get(i)));
    }

    List<StoredEvent> events = Wire.notifications(payload.toString());

    assertThat(events)
        .extracting(StoredEvent::id)
        .containsExactly(10L, 11L, 12L, 13L, 14L, 15L, 16L);
    assertThat(events).extracting(e -> e.event().data()).containsExactlyElementsOf(data);
    assertThat(events.get(1).topics()).containsExactlyInAnyOrder("t", "u");
    assertThat(events.get(0).topics()).containsExactly("t");
  }

  @Test
  void aLengthPastTheDataOrInsideACharacterIsMalformed() {
    String whole = event(1, "t", 1, "é");
    assertThatThrownBy(() -> Wire.notifications(whole.replace("\n2\né", "\n3\né")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("shorter than its length");
    assertThatThrownBy(() -> Wire.notifications(whole.replace("\n2\né", "\n1\né")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inside a character");
    assertThatThrownBy(() -> Wire.notifications("1\n2\n")).isInstanceOf(RuntimeException.class);
  }
}
