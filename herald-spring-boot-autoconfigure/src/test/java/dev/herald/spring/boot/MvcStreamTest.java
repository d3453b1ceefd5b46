package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.spring.boot.mvc.MvcApp;
import dev.herald.spring.boot.testing.RawHttp;
import dev.herald.spring.boot.testing.TestApps;
import java.net.Socket;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.boot.web.context.WebServerApplicationContext;
import org.springframework.boot.web.embedded.tomcat.TomcatWebServer;
import org.springframework.context.ConfigurableApplicationContext;

/** Herald streams from Spring MVC controllers ({@link HeraldStream}) on Tomcat. */
class MvcStreamTest extends EventStreamContract {
  @Override
  ConfigurableApplicationContext start(String... properties) {
    return TestApps.start(MvcApp.class, properties);
  }

  @Test
  void runsOnTomcat() {
    assertThat(((WebServerApplicationContext) context).getWebServer())
        .isInstanceOf(TomcatWebServer.class);
  }

  @Test
  void filterWithoutAsyncSupportGetsAClearErrorAndLeavesNoSubscription() throws Exception {
    int opened = recorder.opened();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> refused = RawHttp.get(uri("/sync/rooms/events?room=" + newRoom()));

      assertThat(refused.statusCode()).isEqualTo(500);
      assertThat(refused.headers().firstValue("Content-Type").orElseThrow())
          .startsWith("application/json");
      assertThat(JSON.readTree(refused.body()).get("error").asText())
          .isEqualTo("async_unsupported");
      assertThat(JSON.readTree(refused.body()).get("message").asText()).contains("async-supported");
    }
    try (Socket socket = RawHttp.request(port, "HEAD", "/sync/rooms/events?room=x")) {
      assertThat(RawHttp.readHead(socket).status()).isEqualTo(500);
    }
    assertThat(recorder.opened()).as("subscriptions opened").isEqualTo(opened);
  }
}
