package dev.herald.spring.boot.flux;

import dev.herald.spring.boot.HeraldFlux;
import dev.herald.spring.boot.testing.CloseRecorder;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.embedded.netty.NettyReactiveWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;

/**
 * A WebFlux application on Reactor Netty that streams with Herald: the README's {@link
 * OrderEventsFlux} and rooms chosen by a query parameter. Run with {@code
 * spring.main.web-application-type=reactive}: Spring MVC is on the test classpath too.
 */
@SpringBootApplication(
    excludeName = {
      "org.springframework.boot.autoconfigure.security.reactive.ReactiveSecurityAutoConfiguration",
      "org.springframework.boot.autoconfigure.security.reactive.ReactiveUserDetailsServiceAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.security.reactive.ReactiveManagementWebSecurityAutoConfiguration"
    })
@Import(CloseRecorder.class)
public class FluxApp {
  /**
   * Reactor Netty, which Boot would not pick by itself here: with Tomcat on the classpath too, a
   * reactive application runs on Tomcat.
   */
  @Bean
  NettyReactiveWebServerFactory nettyReactiveWebServerFactory() {
    return new NettyReactiveWebServerFactory();
  }

  /** The application's own {@code POST} on the path of the ready-made stream endpoint. */
  @RestController
  static class PostOnTheStreamPath {
    @PostMapping("/events")
    String post() {
      return "posted to the application";
    }
  }

  /** Streams {@code rooms/<room>} for each {@code ?room=}. */
  @RestController
  static class RoomEvents {
    private final HeraldFlux herald;

    RoomEvents(HeraldFlux herald) {
      this.herald = herald;
    }

    @GetMapping("/rooms/events")
    Flux<ServerSentEvent<String>> rooms(
        @RequestParam List<String> room, ServerWebExchange exchange) {
      Set<String> topics = room.stream().map(name -> "rooms/" + name).collect(Collectors.toSet());
      return herald.stream(exchange, topics);
    }
  }
}
