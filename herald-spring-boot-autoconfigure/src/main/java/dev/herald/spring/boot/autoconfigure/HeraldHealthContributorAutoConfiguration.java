package dev.herald.spring.boot.autoconfigure;

import dev.herald.server.Broker;
import dev.herald.spring.boot.HeraldHealthIndicator;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The {@code herald} health indicator (Actuator's {@code /actuator/health}): up while the store is
 * reachable. Off with {@code management.health.herald.enabled=false}.
 */
@AutoConfiguration(after = HeraldAutoConfiguration.class)
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnBean(Broker.class)
@ConditionalOnEnabledHealthIndicator("herald")
public class HeraldHealthContributorAutoConfiguration {
  /** The store's health, named {@code herald}. */
  @Bean
  @ConditionalOnMissingBean(name = "heraldHealthIndicator")
  public HeraldHealthIndicator heraldHealthIndicator(Broker broker) {
    return new HeraldHealthIndicator(broker);
  }
}
