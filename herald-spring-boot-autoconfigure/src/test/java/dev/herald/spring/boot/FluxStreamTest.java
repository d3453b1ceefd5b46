package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.spring.boot.flux.FluxApp;
import dev.herald.spring.boot.testing.TestApps;
import org.junit.jupiter.api.Test;
import org.springframework.boot.web.context.WebServerApplicationContext;
import org.springframework.boot.web.embedded.netty.NettyWebServer;
import org.springframework.context.ConfigurableApplicationContext;

/** Herald streams from WebFlux controllers ({@link HeraldFlux}) on Reactor Netty. */
class FluxStreamTest extends EventStreamContract {
  @Override
  ConfigurableApplicationContext start(String... properties) {
    String[] reactive = new String[properties.length + 1];
    System.arraycopy(properties, 0, reactive, 0, properties.length);
    reactive[properties.length] = "spring.main.web-application-type=reactive";
    return TestApps.start(FluxApp.class, reactive);
  }

  @Test
  void runsOnReactorNetty() {
    assertThat(((WebServerApplicationContext) context).getWebServer())
        .isInstanceOf(NettyWebServer.class);
  }
}
