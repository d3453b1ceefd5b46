package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.server.Broker;
import dev.herald.server.CloseReason;
import dev.herald.server.Publication;
import dev.herald.spring.boot.flux.FluxApp;
import dev.herald.spring.boot.mvc.MvcApp;
import dev.herald.spring.boot.testing.CloseRecorder;
import dev.herald.spring.boot.testing.RawHttp;
import dev.herald.spring.boot.testing.TestApps;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Stopping the application ends every stream cleanly, at once: the broker closes before the web
 * server's graceful shutdown (which would otherwise wait its 30 s for streams that never end, then
 * cut them).
 */
@Timeout(60)
class ShutdownTest {
  private static ConfigurableApplicationContext start(String stack) {
    return stack.equals("mvc")
        ? TestApps.start(MvcApp.class)
        : TestApps.start(FluxApp.class, "spring.main.web-application-type=reactive");
  }

  @ParameterizedTest
  @ValueSource(strings = {"mvc", "webflux"})
  void stoppingTheApplicationEndsEveryStreamCleanlyAndPromptly(String stack) throws Exception {
    ConfigurableApplicationContext context = start(stack);
    List<Socket> streams = new ArrayList<>();
    try {
      int port = TestApps.port(context);
      Broker broker = context.getBean(Broker.class);
      CloseRecorder recorder = context.getBean(CloseRecorder.class);
      for (int i = 0; i < 3; i++) {
        Socket socket = RawHttp.request(port, "GET", "/rooms/events?room=shutdown");
        streams.add(socket);
        RawHttp.readUntil(socket, ":ok\n");
      }
      broker.publish(Publication.of("rooms/shutdown", dev.herald.core.Event.of("last words")));
      for (Socket socket : streams) {
        RawHttp.readUntil(socket, "last words");
      }

      long started = System.nanoTime();
      context.close();
      Duration took = Duration.ofNanos(System.nanoTime() - started);

      assertThat(took).as("shutdown time").isLessThan(Duration.ofSeconds(10));
      for (Socket socket : streams) {
        assertThat(RawHttp.readsToCleanEnd(socket)).as("stream ended cleanly").isTrue();
      }
      assertThat(recorder.closedAs(CloseReason.SHUTDOWN)).isEqualTo(3);
    } finally {
      context.close();
      for (Socket socket : streams) {
        socket.close();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mvc", "webflux"})
  void streamsAskedForOnceTheBrokerClosedAreRefused503(String stack) throws Exception {
    try (ConfigurableApplicationContext context = start(stack)) {
      context.getBean(Broker.class).close();

      HttpResponse<String> refused = RawHttp.get(TestApps.uri(context, "/rooms/events?room=late"));

      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
      assertThat(refused.headers().firstValue("Content-Type").orElseThrow())
          .startsWith("application/json");
      assertThat(refused.body()).startsWith("{\"error\":\"shutting_down\",\"message\":\"");
      assertThat(context.getBean(CloseRecorder.class).opened()).isZero();
    }
  }
}
