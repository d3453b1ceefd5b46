package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.core.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A replay of history many times the stream's buffer bound reaches a reader that keeps up. */
class HubReplayTest {
  @Test
  void aReplayLargerThanTheBufferBoundIsPacedNotCutOff() throws Exception {
    int events = 300;
    String payload = "y".repeat(8 * 1024);
    // 2.4 MB of history against a 256 KiB bound: sent at once, it would close the stream as slow.
    try (HubFixture f = new HubFixture(Hub.builder().maxBufferBytes(256 * 1024))) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < events; i++) {
        ids.add(f.publish("{\"topic\": \"history\", \"data\": \"" + i + payload + "\"}"));
      }

      try (SseStream stream = f.subscribe("?topic=history", "Last-Event-ID", "earliest")) {
        for (int i = 0; i < events; i++) {
          Event event = stream.next(Duration.ofSeconds(30));
          assertThat(event).as("event %d of the replay", i).isNotNull();
          assertThat(event.id()).as("event %d of the replay", i).contains(ids.get(i));
          assertThat(event.data()).startsWith(i + "y");
        }
      }
      assertThat(f.get("/metrics").body())
          .containsPattern("herald_slow_consumer_closes_total(\\{[^}]*\\})? 0\\.0");
    }
  }
}
