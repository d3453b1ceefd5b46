package dev.herald.server.servlet;

import dev.herald.server.Broker;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Objects;

/**
 * The ready-made servlet: register it at a path and it serves {@code GET ?topic=a&topic=b} as an
 * event stream from a {@link Broker}. Use it when the client names its topics; when the application
 * picks them (after its own authorisation, say), call {@link EventStreams#stream} from your own
 * servlet or controller instead. See {@link EventStreams} for what the stream does.
 *
 * <p>{@code HEAD} answers the headers a {@code GET} would get (or its error status) and opens no
 * subscription. Register the servlet, and any filter in front of it, with async support, as below;
 * otherwise each request is answered 500 {@code async_unsupported}.
 *
 * <pre>{@code
 * // Jetty 12 (ee10)
 * Broker broker = Broker.builder().build();
 * ServletContextHandler context = new ServletContextHandler();
 * context.addServlet(new EventStreamServlet(broker), "/events").setAsyncSupported(true);
 * server.setHandler(context);
 *
 * // Tomcat
 * Tomcat.addServlet(ctx, "events", new EventStreamServlet(broker)).setAsyncSupported(true);
 * ctx.addServletMappingDecoded("/events", "events");
 *
 * // Spring Boot
 * @Bean
 * ServletRegistrationBean<EventStreamServlet> events(Broker broker) {
 *   return new ServletRegistrationBean<>(new EventStreamServlet(broker), "/events");
 * }
 * }</pre>
 *
 * <p>Publish from anywhere in the application with {@code broker.publish(Publication.of("prices",
 * Event.of("{\"eur\": 1.08}")))}.
 */
public final class EventStreamServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  private final transient EventStreams sse;

  /** A servlet streaming from {@code broker} with the default settings. */
  public EventStreamServlet(Broker broker) {
    this(EventStreams.create(broker));
  }

  /** A servlet streaming with a configured adapter. */
  public EventStreamServlet(EventStreams sse) {
    this.sse = Objects.requireNonNull(sse, "sse");
  }

  /** Streams the topics named by the {@code topic} query parameters. */
  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    sse.handle(request, response);
  }

  /**
   * Answers the headers {@link #doGet} would, without subscribing. Overridden so the answer does
   * not depend on the container's legacy {@code HEAD} handling, where the inherited {@code doHead}
   * wraps the response and sets a {@code Content-Length} that a stream never has.
   */
  @Override
  protected void doHead(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    sse.handle(request, response);
  }
}
