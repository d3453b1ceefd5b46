package dev.herald.spring.boot.internal;

import jakarta.servlet.http.HttpServletRequest;
import java.util.Map;
import org.springframework.web.HttpRequestHandler;
import org.springframework.web.servlet.handler.SimpleUrlHandlerMapping;

/**
 * Maps the ready-made MVC endpoint's path to its handler for {@code GET} and {@code HEAD} only:
 * other methods on the same path go on to the application's own handlers (a {@code POST} that
 * publishes, say).
 */
public final class StreamEndpointMapping extends SimpleUrlHandlerMapping {
  /** Serves {@code path} with {@code endpoint}, ahead of the annotated controllers. */
  public StreamEndpointMapping(String path, HttpRequestHandler endpoint) {
    super(Map.of(path, endpoint), -1);
  }

  @Override
  protected Object getHandlerInternal(HttpServletRequest request) throws Exception {
    String method = request.getMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      return null;
    }
    return super.getHandlerInternal(request);
  }
}
