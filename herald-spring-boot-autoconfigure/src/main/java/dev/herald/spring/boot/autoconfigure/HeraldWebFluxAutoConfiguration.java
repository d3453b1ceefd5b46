package dev.herald.spring.boot.autoconfigure;

import dev.herald.server.Broker;
import dev.herald.spring.boot.HeraldFlux;
import dev.herald.spring.boot.StreamRefusedException;
import dev.herald.spring.boot.internal.RefusalWebExceptionHandler;
import java.util.List;
import java.util.Set;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.BodyInserters;
import org.springframework.web.reactive.function.server.RequestPredicates;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Herald streams in WebFlux: a {@link HeraldFlux} (bounded by {@code herald.max-buffer-bytes}) for
 * controllers, the handler that answers its refusals with JSON errors, and, with {@code
 * herald.webflux.path} set, a ready-made endpoint streaming the topics its {@code topic} query
 * parameters name.
 */
@AutoConfiguration(after = HeraldAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
@ConditionalOnClass({Flux.class, RouterFunction.class, Broker.class})
@ConditionalOnBean(Broker.class)
public class HeraldWebFluxAutoConfiguration {
  /** Streams as {@code Flux<ServerSentEvent<String>>}. */
  @Bean
  @ConditionalOnMissingBean
  public HeraldFlux heraldFlux(Broker broker, HeraldProperties properties) {
    return new HeraldFlux(broker, properties.getMaxBufferBytes().toBytes());
  }

  /** Answers {@link StreamRefusedException} with its status and a JSON error. */
  @Bean
  public RefusalWebExceptionHandler heraldRefusalWebExceptionHandler() {
    return new RefusalWebExceptionHandler();
  }

  /** {@code GET herald.webflux.path?topic=a&topic=b}. */
  @Bean
  @ConditionalOnProperty("herald.webflux.path")
  public RouterFunction<ServerResponse> heraldEndpoint(
      HeraldFlux herald, HeraldProperties properties) {
    String path = properties.getWebflux().getPath();
    return RouterFunctions.route(
        RequestPredicates.GET(path).or(RequestPredicates.HEAD(path)),
        request -> {
          List<String> topics = request.queryParams().getOrDefault("topic", List.of());
          if (topics.isEmpty()) {
            return Mono.error(
                new StreamRefusedException(
                    400, "topic_missing", "name at least one topic with ?topic=<name>"));
          }
          return ServerResponse.ok()
              .contentType(MediaType.TEXT_EVENT_STREAM)
              .body(
                  BodyInserters.fromServerSentEvents(
                      herald.stream(request.exchange(), Set.copyOf(topics))));
        });
  }
}
