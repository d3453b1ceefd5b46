package dev.herald.spring.boot;

import dev.herald.server.Broker;
import java.util.Objects;
import org.springframework.boot.actuate.health.AbstractHealthIndicator;
import org.springframework.boot.actuate.health.Health;

/**
 * The health of the broker's store, as the hub's {@code /readyz} tells it: up while the store is
 * reachable ({@link dev.herald.server.spi.EventLog#isAvailable}), down otherwise, and down once the
 * broker is closing. The details name the store's kind ({@code MemoryEventLog}, {@code
 * SqliteEventLog}, {@code RedisEventLog}) and the streams open on this instance.
 */
public final class HeraldHealthIndicator extends AbstractHealthIndicator {
  private final Broker broker;

  /** An indicator for {@code broker}. */
  public HeraldHealthIndicator(Broker broker) {
    super("Herald store health check failed");
    this.broker = Objects.requireNonNull(broker, "broker");
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    if (broker.isClosed()) {
      // Shutting down: a load balancer should stop sending streams here now.
      builder.down().withDetail("closed", true);
      return;
    }
    (broker.log().isAvailable() ? builder.up() : builder.down())
        .withDetail("store", broker.log().getClass().getSimpleName())
        .withDetail("subscriptions", broker.subscriptionCount());
  }
}
