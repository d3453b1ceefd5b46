package dev.herald.bench.spring;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.server.StoredEvent;
import dev.herald.spring.boot.HeraldPublisher;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.embedded.netty.NettyReactiveWebServerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import reactor.core.publisher.Mono;

/**
 * Spring Boot fan-out servers for the load generator ({@code LoadGenerator --target herald}): the
 * Herald starter on Tomcat (Spring MVC) and on Reactor Netty (WebFlux), and a plain {@link
 * SseEmitter} fan-out written the usual way, all answering {@code GET /events?topic=} with a stream
 * and {@code POST /events} ({@code {"topic": t, "data": <json>}}) with {@code 201}. Run by {@code
 * herald-bench/scripts/spring-fanout.sh}.
 *
 * <pre>
 * java -cp herald-bench/target/classes:&lt;Maven classpath&gt; dev.herald.bench.spring.SpringFanOutServer
 *     starter-mvc|starter-webflux|sse-emitter PORT
 * </pre>
 */
public final class SpringFanOutServer {
  private SpringFanOutServer() {}

  /**
   * Starts one server; it runs until the process is killed.
   *
   * @param args the mode, then the port
   */
  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: SpringFanOutServer starter-mvc|starter-webflux|sse-emitter PORT");
      System.exit(2);
    }
    Class<?> application;
    WebApplicationType type;
    switch (args[0]) {
      case "starter-mvc" -> {
        application = StarterMvc.class;
        type = WebApplicationType.SERVLET;
      }
      case "starter-webflux" -> {
        application = StarterWebFlux.class;
        type = WebApplicationType.REACTIVE;
      }
      case "sse-emitter" -> {
        application = Emitters.class;
        type = WebApplicationType.SERVLET;
      }
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
    new SpringApplicationBuilder(application)
        .web(type)
        .properties(
            "server.port=" + args[1],
            "server.address=127.0.0.1",
            // As the hub's load tests: no connection limit (Tomcat's default is 8192).
            "server.tomcat.max-connections=-1",
            // Nor a cap on requests per keep-alive connection (Tomcat closes one after 100): the
            // load generator publishes on a few connections for the whole run.
            "server.tomcat.max-keep-alive-requests=-1",
            "spring.main.banner-mode=off",
            // Spring Security is on the classpath the script runs with (the starter's tests).
            "spring.autoconfigure.exclude="
                + "org.springframework.boot.autoconfigure.security.servlet.SecurityAutoConfiguration,"
                + "org.springframework.boot.autoconfigure.security.servlet.SecurityFilterAutoConfiguration,"
                + "org.springframework.boot.autoconfigure.security.servlet.UserDetailsServiceAutoConfiguration,"
                + "org.springframework.boot.autoconfigure.security.reactive.ReactiveSecurityAutoConfiguration,"
                + "org.springframework.boot.autoconfigure.security.reactive.ReactiveUserDetailsServiceAutoConfiguration,"
                + "org.springframework.boot.actuate.autoconfigure.security.servlet.ManagementWebSecurityAutoConfiguration,"
                + "org.springframework.boot.actuate.autoconfigure.security.reactive.ReactiveManagementWebSecurityAutoConfiguration",
            "herald.mvc.path=/events",
            "herald.webflux.path=/events")
        .run();
  }

  private static final String CREATED_BODY = "{\"id\":\"%d\"}";

  /** The hub's topic form: a JSON string is sent as it is, any other value as its text. */
  private static String data(JsonNode body) {
    JsonNode data = body.get("data");
    return data.isTextual() ? data.asText() : data.toString();
  }

  /** The starter on Spring MVC and Tomcat: its ready-made endpoint and the publisher. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(StarterMvc.Publish.class)
  static class StarterMvc {
    @RestController
    static class Publish {
      private final HeraldPublisher herald;

      Publish(HeraldPublisher herald) {
        this.herald = herald;
      }

      @PostMapping("/events")
      ResponseEntity<String> publish(@RequestBody JsonNode body) {
        StoredEvent event = herald.publish(body.get("topic").asText(), data(body)).join();
        return ResponseEntity.status(HttpStatus.CREATED)
            .contentType(MediaType.APPLICATION_JSON)
            .body(CREATED_BODY.formatted(event.id()));
      }
    }
  }

  /** The starter on WebFlux and Reactor Netty: its ready-made endpoint and the publisher. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(StarterWebFlux.Publish.class)
  static class StarterWebFlux {
    /** Reactor Netty, though Tomcat is on the classpath too. */
    @Bean
    NettyReactiveWebServerFactory nettyReactiveWebServerFactory() {
      return new NettyReactiveWebServerFactory();
    }

    @RestController
    static class Publish {
      private final HeraldPublisher herald;

      Publish(HeraldPublisher herald) {
        this.herald = herald;
      }

      @PostMapping("/events")
      Mono<ResponseEntity<String>> publish(@RequestBody JsonNode body) {
        return Mono.fromFuture(herald.publish(body.get("topic").asText(), data(body)))
            .map(
                event ->
                    ResponseEntity.status(HttpStatus.CREATED)
                        .contentType(MediaType.APPLICATION_JSON)
                        .body(CREATED_BODY.formatted(event.id())));
      }
    }
  }

  /**
   * The usual {@link SseEmitter} fan-out: a set of emitters per topic, each removed when it
   * completes, times out or fails, and a publish that sends to each in turn. No history, no resume,
   * no bound: what Herald replaces.
   */
  @SpringBootConfiguration
  @EnableAutoConfiguration(
      excludeName = "dev.herald.spring.boot.autoconfigure.HeraldAutoConfiguration")
  @Import(Emitters.Controller.class)
  static class Emitters {
    @RestController
    static class Controller {
      private final Map<String, Set<SseEmitter>> topics = new ConcurrentHashMap<>();
      private final AtomicLong ids = new AtomicLong();

      @GetMapping("/events")
      SseEmitter subscribe(@RequestParam("topic") String topic) throws IOException {
        SseEmitter emitter = new SseEmitter(0L); // no timeout: a stream lives until it fails
        Set<SseEmitter> emitters =
            topics.computeIfAbsent(topic, t -> ConcurrentHashMap.newKeySet());
        emitters.add(emitter);
        emitter.onCompletion(() -> emitters.remove(emitter));
        emitter.onTimeout(() -> emitters.remove(emitter));
        emitter.onError(e -> emitters.remove(emitter));
        // Opens the response at once, as Herald's ":ok" does: an SseEmitter sends no head before
        // its first event (queued here, written once the request turns asynchronous).
        emitter.send(SseEmitter.event().comment("ok"));
        return emitter;
      }

      @PostMapping("/events")
      ResponseEntity<String> publish(@RequestBody JsonNode body) {
        long id = ids.incrementAndGet();
        String data = data(body);
        Set<SseEmitter> emitters = topics.getOrDefault(body.get("topic").asText(), Set.of());
        for (SseEmitter emitter : emitters) {
          try {
            emitter.send(SseEmitter.event().id(Long.toString(id)).data(data));
          } catch (IOException | IllegalStateException e) {
            // The client is gone (the container may have ended the request already, when
            // completeWithError would throw again): forget it.
            emitters.remove(emitter);
          }
        }
        return ResponseEntity.status(HttpStatus.CREATED)
            .contentType(MediaType.APPLICATION_JSON)
            .body(CREATED_BODY.formatted(id));
      }
    }
  }
}
