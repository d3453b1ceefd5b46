package dev.herald.spring.boot.autoconfigure;

import dev.herald.server.Broker;
import dev.herald.server.servlet.EventStreams;
import dev.herald.spring.boot.HeraldStream;
import dev.herald.spring.boot.internal.HeraldStreamReturnValueHandler;
import dev.herald.spring.boot.internal.StreamEndpointMapping;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.web.servlet.WebMvcAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.web.HttpRequestHandler;
import org.springframework.web.servlet.DispatcherServlet;

/**
 * Herald streams in Spring MVC, on the Servlet adapter: controllers return a {@link HeraldStream};
 * the {@link EventStreams} bean (bounded by {@code herald.max-buffer-bytes}) serves it, and can be
 * called directly ({@code streams.stream(request, response, topics)}). With {@code herald.mvc.path}
 * set, a ready-made endpoint streams the topics its {@code topic} query parameters name.
 */
@AutoConfiguration(after = {HeraldAutoConfiguration.class, WebMvcAutoConfiguration.class})
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass({DispatcherServlet.class, HttpServletRequest.class, EventStreams.class})
@ConditionalOnBean(Broker.class)
public class HeraldWebMvcAutoConfiguration {
  /** The Servlet adapter with the configured per-stream bound. */
  @Bean
  @ConditionalOnMissingBean
  public EventStreams heraldEventStreams(Broker broker, HeraldProperties properties) {
    return EventStreams.builder(broker)
        .maxBufferBytes(properties.getMaxBufferBytes().toBytes())
        .build();
  }

  /** Serves {@link HeraldStream} return values, ahead of the JSON body handler. */
  @Bean
  public static BeanPostProcessor heraldStreamReturnValueHandlerInstaller(
      ObjectProvider<EventStreams> streams) {
    return HeraldStreamReturnValueHandler.installer(
        new HeraldStreamReturnValueHandler(streams::getObject));
  }

  /**
   * {@code GET herald.mvc.path?topic=a&topic=b} (and {@code HEAD}), before the annotated
   * controllers; other methods on the path are the application's.
   */
  @Bean
  @ConditionalOnProperty("herald.mvc.path")
  public StreamEndpointMapping heraldEndpointHandlerMapping(
      EventStreams streams, HeraldProperties properties) {
    HttpRequestHandler endpoint = streams::handle;
    return new StreamEndpointMapping(properties.getMvc().getPath(), endpoint);
  }
}
