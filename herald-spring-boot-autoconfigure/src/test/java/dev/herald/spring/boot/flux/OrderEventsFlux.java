package dev.herald.spring.boot.flux;

import dev.herald.spring.boot.HeraldFlux;
import dev.herald.spring.boot.HeraldPublisher;
import java.util.Map;
import java.util.Set;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The README's WebFlux example, as the README quotes it (ReadmeTest keeps them identical). */
// README:begin
@RestController
record OrderEventsFlux(HeraldFlux flux, HeraldPublisher herald) {
  @GetMapping("/orders/{id}/events") // resumes from Last-Event-ID
  Flux<ServerSentEvent<String>> events(@PathVariable String id, ServerWebExchange exchange) {
    return flux.stream(exchange, Set.of("orders/" + id)); // after your own authorization
  }

  @PostMapping("/orders/{id}/ship")
  Mono<Void> ship(@PathVariable String id) {
    return Mono.fromFuture(herald.publish("orders/" + id, "shipped", Map.of("order", id))).then();
  }
}
// README:end
