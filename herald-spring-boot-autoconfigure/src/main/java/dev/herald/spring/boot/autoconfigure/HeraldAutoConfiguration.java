package dev.herald.spring.boot.autoconfigure;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herald.server.Broker;
import dev.herald.server.BrokerListener;
import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import dev.herald.spring.boot.HeraldPublisher;
import dev.herald.spring.boot.internal.BrokerLifecycle;
import dev.herald.spring.boot.internal.CompositeBrokerListener;
import dev.herald.stores.StoreSpec;
import java.util.List;
import java.util.Optional;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The {@link Broker} of a Spring Boot application, from the {@code herald.*} properties ({@link
 * HeraldProperties}): the store in the hub's syntax, its retention, heartbeats. Every {@link
 * BrokerListener} bean hears the broker ({@link dev.herald.spring.boot.HeraldMetrics} among them);
 * an {@link EventLog} bean, if the application defines one, replaces the store (with a {@link
 * Presence} bean, if any). The broker is closed when the application stops, before the web server
 * shuts down ({@link BrokerLifecycle}), so every stream ends cleanly. A {@link HeraldPublisher}
 * publishes in one call.
 */
@AutoConfiguration
@ConditionalOnClass({Broker.class, StoreSpec.class})
@EnableConfigurationProperties(HeraldProperties.class)
public class HeraldAutoConfiguration {
  /**
   * The broker on the configured store.
   *
   * @throws IllegalArgumentException if {@code herald.store} is not a store spec (the sentence says
   *     which forms are accepted)
   * @throws dev.herald.server.StoreUnavailableException if the store cannot be opened
   */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public Broker heraldBroker(
      HeraldProperties properties,
      ObjectProvider<EventLog> logs,
      ObjectProvider<Presence> presences,
      ObjectProvider<BrokerListener> listeners) {
    Broker.Builder builder = Broker.builder().heartbeat(properties.getHeartbeat());
    List<BrokerListener> all = listeners.orderedStream().toList();
    if (!all.isEmpty()) {
      builder.listener(all.size() == 1 ? all.get(0) : new CompositeBrokerListener(all));
    }
    EventLog custom = logs.getIfUnique();
    if (custom != null) {
      presences.ifUnique(builder::presence);
      return builder.log(custom).build();
    }
    StoreSpec spec = StoreSpec.parse(properties.getStore());
    String prefix = properties.getRedisKeyPrefix();
    EventLog log =
        spec.open(
            new Retention(properties.getRetention().getCount(), properties.getRetention().getAge()),
            properties.isFsync(),
            new StoreSpec.RedisSettings(
                prefix, properties.getRedisMinReplicas(), properties.getRedisMinReplicasTimeout()));
    try {
      Optional<Presence> presence = spec.presence(log, prefix);
      presence.ifPresent(builder::presence);
      return builder.log(log).build();
    } catch (RuntimeException e) {
      // The broker was not built, so nobody else closes the store (or its file lock).
      log.close();
      throw e;
    }
  }

  /** Closes the broker before the web server's graceful shutdown. */
  @Bean
  @ConditionalOnSingleCandidate(Broker.class)
  public BrokerLifecycle heraldBrokerLifecycle(Broker broker) {
    return new BrokerLifecycle(broker);
  }

  // The publisher's configurations are nested classes, which Spring reads before the broker's
  // method: a condition on the Broker bean would not see it yet.

  /** The publisher, writing data objects as JSON with the application's {@code ObjectMapper}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(ObjectMapper.class)
  static class JacksonPublisherConfiguration {
    @Bean
    @ConditionalOnMissingBean
    HeraldPublisher heraldPublisher(Broker broker, ObjectProvider<ObjectMapper> mappers) {
      ObjectMapper mapper = mappers.getIfAvailable(ObjectMapper::new);
      return new HeraldPublisher(
          broker,
          value -> {
            try {
              return mapper.writeValueAsString(value);
            } catch (JsonProcessingException e) {
              throw new IllegalArgumentException(
                  "cannot write a " + value.getClass().getName() + " as JSON: " + e.getMessage(),
                  e);
            }
          });
    }
  }

  /** The publisher without Jackson: data must be text. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnMissingClass("com.fasterxml.jackson.databind.ObjectMapper")
  static class TextPublisherConfiguration {
    @Bean
    @ConditionalOnMissingBean
    HeraldPublisher heraldPublisher(Broker broker) {
      return new HeraldPublisher(
          broker,
          value -> {
            throw new IllegalArgumentException(
                "cannot write a "
                    + value.getClass().getName()
                    + " as JSON without Jackson on the classpath; publish text instead");
          });
    }
  }
}
