package dev.herald.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void encodedEventParsesBackToItself() {
    Event event = Event.builder().id("7").type("tick").data(" a\r\nb\n").build();
    byte[] wire = SseEncoder.encode(event);
    assertThat(new String(wire, StandardCharsets.UTF_8))
        .isEqualTo("id: 7\nevent: tick\ndata:  a\ndata: b\ndata:\n\n");
    List<Event> seen = new ArrayList<>();
    SseParser parser = SseParser.create(seen::add);
    for (byte b : wire) {
      parser.feed(new byte[] {b});
    }
    assertThat(seen).containsExactly(Event.builder().id("7").type("tick").data(" a\nb\n").build());
  }
}
