package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Hub.Builder#ioThreads}: how many event-loop threads serve the connections. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HubIoThreadsTest {
  private static Set<String> ioThreadNames() {
    return Thread.getAllStackTraces().keySet().stream()
        .map(Thread::getName)
        .filter(name -> name.startsWith("herald-io-"))
        .collect(Collectors.toSet());
  }

  @Test
  void oneIoThreadServesEveryStreamAndPublishOnItsOwn() throws Exception {
    Set<String> before = ioThreadNames();
    List<SseStream> streams = new ArrayList<>();
    try (HubFixture f = new HubFixture(Hub.builder().ioThreads(1))) {
      for (int i = 0; i < 12; i++) {
        streams.add(f.subscribe("?topic=t" + i));
      }
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        ids.add(f.publish("{\"topic\": \"t" + i + "\", \"data\": \"e" + i + "\"}"));
      }
      for (int i = 0; i < 12; i++) {
        assertThat(streams.get(i).next().id()).hasValue(ids.get(i));
      }
      Set<String> started = ioThreadNames();
      started.removeAll(before);
      // Twelve streams and the publishing connection, all served by the one thread.
      assertThat(started).hasSize(1);
    } finally {
      for (SseStream stream : streams) {
        stream.close();
      }
    }
  }

  @Test
  void fewerThanOneIoThreadIsRefusedByTheBuilder() {
    assertThatThrownBy(() -> Hub.builder().ioThreads(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ioThreads must be positive: 0");
  }
}
