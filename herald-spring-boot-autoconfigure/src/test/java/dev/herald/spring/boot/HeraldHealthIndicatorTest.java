package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.Broker;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.Status;

/** The health indicator on a real broker: up while it serves, down from the moment it closes. */
class HeraldHealthIndicatorTest {
  @Test
  void isUpWhileTheBrokerServesAndDownOnceItCloses() {
    Broker broker = Broker.builder().build();
    HeraldHealthIndicator indicator = new HeraldHealthIndicator(broker);
    Health up = indicator.health();
    assertThat(up.getStatus()).isEqualTo(Status.UP);
    assertThat(up.getDetails()).containsEntry("store", "MemoryEventLog");

    broker.close();

    Health down = indicator.health();
    assertThat(down.getStatus()).isEqualTo(Status.DOWN);
    assertThat(down.getDetails()).containsEntry("closed", true);
  }
}
