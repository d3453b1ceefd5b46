package dev.herald.spring.boot.autoconfigure;

import dev.herald.server.Broker;
import dev.herald.spring.boot.HeraldMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The broker's Micrometer meters ({@link HeraldMetrics}) in the application's {@link
 * MeterRegistry}: a {@link MeterBinder} that Spring Boot binds, and a listener the auto-configured
 * broker takes.
 */
@AutoConfiguration(
    before = HeraldAutoConfiguration.class,
    afterName =
        "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration")
@ConditionalOnClass({MeterBinder.class, Broker.class})
@ConditionalOnBean(MeterRegistry.class)
public class HeraldMetricsAutoConfiguration {
  /** The meters. */
  @Bean
  @ConditionalOnMissingBean
  public HeraldMetrics heraldMetrics() {
    return new HeraldMetrics();
  }
}
