package dev.herald.spring.boot.internal;

import dev.herald.core.internal.JsonStrings;
import dev.herald.spring.boot.StreamRefusedException;
import java.nio.charset.StandardCharsets;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebExceptionHandler;
import reactor.core.publisher.Mono;

/**
 * Answers a {@link StreamRefusedException} with its status and the JSON body {@code {"error": code,
 * "message": ...}} of the hub and the Servlet adapter. Ordered before Spring Boot's error handler,
 * which would answer in its own format.
 */
public final class RefusalWebExceptionHandler implements WebExceptionHandler, Ordered {
  @Override
  public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
    if (!(ex instanceof StreamRefusedException refused)) {
      return Mono.error(ex);
    }
    ServerHttpResponse response = exchange.getResponse();
    if (response.isCommitted()) {
      return Mono.error(ex);
    }
    byte[] body =
        ("{\"error\":"
                + JsonStrings.quote(refused.code())
                + ",\"message\":"
                + JsonStrings.quote(refused.getMessage())
                + "}")
            .getBytes(StandardCharsets.UTF_8);
    response.setStatusCode(HttpStatusCode.valueOf(refused.status()));
    response
        .getHeaders()
        .setContentType(new MediaType("application", "json", StandardCharsets.UTF_8));
    response.getHeaders().setCacheControl("no-store");
    response.getHeaders().remove("X-Accel-Buffering");
    if (refused.status() == 503) {
      response.getHeaders().set("Retry-After", "1");
    }
    response.getHeaders().setContentLength(body.length);
    DataBuffer buffer = response.bufferFactory().wrap(body);
    return response.writeWith(Mono.just(buffer));
  }

  /** Before Spring Boot's {@code ErrorWebExceptionHandler} (-1). */
  @Override
  public int getOrder() {
    return -2;
  }
}
