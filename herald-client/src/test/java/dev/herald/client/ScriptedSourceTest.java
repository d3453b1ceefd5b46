package dev.herald.client;

import dev.herald.client.testing.ScriptedServer;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;

/**
 * The fixture most client tests share: a scripted server on 127.0.0.1, a recording listener, and a
 * source builder pointed at the server that reconnects without delay.
 */
abstract class ScriptedSourceTest {
  final ScriptedServer server = ScriptedServer.start();
  final Recorder recorder = new Recorder();
  private final String target;

  /** A fixture whose sources open {@code /events}. */
  ScriptedSourceTest() {
    this("/events");
  }

  /** A fixture whose sources open {@code target} (path and query) on the scripted server. */
  ScriptedSourceTest(String target) {
    this.target = target;
  }

  @AfterEach
  void stopServer() {
    server.close();
  }

  /** A builder for a source on the scripted server; zero reconnection time keeps tests fast. */
  EventSource.Builder source() {
    return EventSource.builder(server.uri(target))
        .reconnectionTime(Duration.ZERO)
        .listener(recorder);
  }
}
