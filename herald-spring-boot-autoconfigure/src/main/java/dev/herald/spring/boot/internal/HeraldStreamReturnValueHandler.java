package dev.herald.spring.boot.internal;

import dev.herald.server.servlet.EventStreams;
import dev.herald.spring.boot.HeraldStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.core.MethodParameter;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.method.support.HandlerMethodReturnValueHandler;
import org.springframework.web.method.support.ModelAndViewContainer;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter;

/**
 * Serves a controller's {@link HeraldStream} through the Servlet adapter ({@link
 * EventStreams#stream}): the request turns asynchronous and the response is the stream. It goes
 * first among the handlers ({@link #installer}): on a {@code @RestController} the JSON body handler
 * would otherwise take any return value.
 */
public final class HeraldStreamReturnValueHandler implements HandlerMethodReturnValueHandler {
  private final Supplier<EventStreams> streams;

  /** A handler streaming with the adapter {@code streams} supplies (looked up on first use). */
  public HeraldStreamReturnValueHandler(Supplier<EventStreams> streams) {
    this.streams = streams;
  }

  @Override
  public boolean supportsReturnType(MethodParameter returnType) {
    return HeraldStream.class.isAssignableFrom(returnType.getParameterType());
  }

  @Override
  public void handleReturnValue(
      Object returnValue,
      MethodParameter returnType,
      ModelAndViewContainer mavContainer,
      NativeWebRequest webRequest)
      throws Exception {
    if (returnValue == null) {
      throw new IllegalStateException(
          returnType.getExecutable() + " returned no HeraldStream: return one, or throw");
    }
    mavContainer.setRequestHandled(true);
    streams.get().stream(
        webRequest.getNativeRequest(HttpServletRequest.class),
        webRequest.getNativeResponse(HttpServletResponse.class),
        ((HeraldStream) returnValue).topics());
  }

  /**
   * Puts {@code handler} first among the return value handlers of every {@link
   * RequestMappingHandlerAdapter}.
   */
  public static BeanPostProcessor installer(HandlerMethodReturnValueHandler handler) {
    return new BeanPostProcessor() {
      @Override
      public Object postProcessAfterInitialization(Object bean, String beanName) {
        if (bean instanceof RequestMappingHandlerAdapter adapter) {
          List<HandlerMethodReturnValueHandler> handlers = new ArrayList<>();
          handlers.add(handler);
          List<HandlerMethodReturnValueHandler> existing = adapter.getReturnValueHandlers();
          if (existing != null) {
            handlers.addAll(existing);
          }
          adapter.setReturnValueHandlers(handlers);
        }
        return bean;
      }
    };
  }
}
