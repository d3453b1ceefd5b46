package dev.herald.server.servlet;

import jakarta.servlet.Filter;
import jakarta.servlet.Servlet;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/**
 * A real Servlet container for the adapter's tests, serving one servlet at {@code /events} on
 * 127.0.0.1 and a free port: the adapter promises any Servlet 6 container, so its tests run on each
 * of {@link #all()}.
 */
interface ServletContainer extends AutoCloseable {
  /** How the servlet's filter chain is registered: async-supported throughout, or not. */
  enum Chain {
    /** The servlet is registered with async support, and no filter is in front of it. */
    ASYNC,
    /** The servlet is registered without async support. */
    SERVLET_NOT_ASYNC,
    /** The servlet is async-supported, but a pass-through filter in front of it is not. */
    FILTER_NOT_ASYNC
  }

  /** A filter that only passes the request on, for {@link Chain#FILTER_NOT_ASYNC}. */
  Filter PASS_THROUGH = (request, response, chain) -> chain.doFilter(request, response);

  /** Starts serving {@code servlet} at {@code /events} behind {@code chain}; returns the port. */
  int start(Servlet servlet, Chain chain) throws Exception;

  /** Stops the container, if started. */
  @Override
  void close() throws Exception;

  /**
   * Every container the adapter is tested on, named with its version: Jetty 12 and Tomcat, or those
   * the system property {@code herald.test.servletContainers} lists (comma-separated {@code jetty},
   * {@code tomcat}; the build's Tomcat 11 run names only Tomcat).
   */
  static Stream<Named<ServletContainer>> all() {
    Set<String> wanted =
        Arrays.stream(
                System.getProperty("herald.test.servletContainers", "jetty,tomcat").split(","))
            .map(String::trim)
            .collect(Collectors.toSet());
    Stream.Builder<Named<ServletContainer>> containers = Stream.builder();
    if (wanted.contains("jetty")) {
      containers.add(Named.of(JettyContainer.version(), new JettyContainer()));
    }
    if (wanted.contains("tomcat")) {
      containers.add(Named.of(TomcatContainer.version(), new TomcatContainer()));
    }
    return containers.build();
  }
}
