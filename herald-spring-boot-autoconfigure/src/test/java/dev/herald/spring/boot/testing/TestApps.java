package dev.herald.spring.boot.testing;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/** Starts the test applications: real Boot applications on a random port of 127.0.0.1. */
public final class TestApps {
  private TestApps() {}

  /**
   * Runs {@code application} with the given {@code name=value} properties on top of a random port
   * bound to 127.0.0.1, the health details and the metrics endpoint.
   */
  public static ConfigurableApplicationContext start(Class<?> application, String... properties) {
    List<String> all = new ArrayList<>();
    all.add("server.port=0");
    all.add("server.address=127.0.0.1");
    all.add("spring.main.banner-mode=off");
    all.add("management.endpoints.web.exposure.include=health,metrics");
    all.add("management.endpoint.health.show-details=always");
    all.addAll(List.of(properties));
    return new SpringApplicationBuilder(application).properties(all.toArray(new String[0])).run();
  }

  /** The port the application's web server listens on. */
  public static int port(ConfigurableApplicationContext context) {
    return ((WebServerApplicationContext) context).getWebServer().getPort();
  }

  /** {@code http://127.0.0.1:<port><pathAndQuery>}. */
  public static URI uri(ConfigurableApplicationContext context, String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + port(context) + pathAndQuery);
  }
}
