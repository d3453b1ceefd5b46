package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import dev.herald.hub.testing.TestCertificates;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client against a real hub over HTTP/2: {@code java.net.http} negotiates {@code h2} by ALPN
 * over TLS, and the client streams, and resumes with {@code Last-Event-ID} after the hub ends its
 * stream, exactly as over HTTP/1.1.
 */
@Timeout(60)
class EventSourceOverHttp2Test {
  @TempDir Path dir;

  @Test
  void streamsAndResumesOverHttp2() throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "client", "EC");
    HttpClient http2 = cert.http2Client();
    BlockingQueue<HttpClient.Version> opened = new LinkedBlockingQueue<>();
    BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    try (Hub hub = Hub.builder().port(0).tls(cert.cert(), cert.key()).build().start()) {
      String base = "https://localhost:" + hub.address().getPort();
      EventSource source =
          EventSource.builder(URI.create(base + "/events?topic=prices"))
              .httpClient(http2)
              .header("Device-Id", "laptop")
              .reconnectionTime(Duration.ofMillis(100))
              .listener(
                  new EventSourceListener() {
                    @Override
                    public void onEvent(Event event) {
                      events.add(event);
                    }

                    @Override
                    public void onOpen(HttpResponse.ResponseInfo response) {
                      opened.add(response.version());
                    }
                  })
              .build();
      try (source) {
        source.start();
        assertThat(opened.poll(10, TimeUnit.SECONDS)).isEqualTo(HttpClient.Version.HTTP_2);
        String first = publish(http2, base, "1.08");
        assertThat(next(events).id()).contains(first);

        // Another stream of the same device replaces this one: the hub ends it cleanly, and what
        // is published meanwhile reaches the client only if it resumes from its last event.
        HttpResponse<InputStream> replacing =
            http2
                .sendAsync(
                    HttpRequest.newBuilder(URI.create(base + "/events?topic=prices"))
                        .header("Device-Id", "laptop")
                        .build(),
                    HttpResponse.BodyHandlers.ofInputStream())
                .get(10, TimeUnit.SECONDS);
        assertThat(replacing.version()).isEqualTo(HttpClient.Version.HTTP_2);
        String second = publish(http2, base, "1.09");
        String third = publish(http2, base, "1.10");
        assertThat(opened.poll(10, TimeUnit.SECONDS))
            .as("reconnected over HTTP/2")
            .isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(next(events).id()).contains(second);
        assertThat(next(events).id()).contains(third);
        assertThat(events.poll(200, TimeUnit.MILLISECONDS)).as("nothing twice").isNull();
        assertThat(source.lastEventId()).isEqualTo(third);
        replacing.body().close();
      }
    }
  }

  private static Event next(BlockingQueue<Event> events) throws InterruptedException {
    Event event = events.poll(10, TimeUnit.SECONDS);
    assertThat(event).as("an event within 10 s").isNotNull();
    return event;
  }

  private static String publish(HttpClient client, String base, String price) throws Exception {
    HttpResponse<String> response =
        client.send(
            HttpRequest.newBuilder(URI.create(base + "/events"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"topic\": \"prices\", \"data\": " + price + "}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(response.version()).isEqualTo(HttpClient.Version.HTTP_2);
    String body = response.body();
    return body.substring(
        body.indexOf("\"id\":\"") + 6, body.indexOf('"', body.indexOf("\"id\":\"") + 6));
  }
}
