package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.herald.hub.testing.TestCertificates;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * A real browser over HTTP/2: headless Chromium (the system's, driven through its chromedriver,
 * nothing downloaded) opens 10 EventSources to the hub on one page — past HTTP/1.1's six
 * connections per origin — over TLS with a self-signed certificate, and all ten are live on one
 * connection.
 */
class HubChromiumTest {
  private static final int SOURCES = 10;

  @TempDir Path dir;

  @Test
  void tenEventSourcesOnOnePageAreLiveOverOneHttp2Connection() throws Exception {
    TestCertificates.Pair cert = TestCertificates.selfSigned(dir, "chromium", "EC");
    HttpServer pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    String pageOrigin = "http://127.0.0.1:" + pages.getAddress().getPort();
    try (HubFixture f =
        new HubFixture(
            Hub.builder().tls(cert.cert(), cert.key()).corsOrigins(List.of(pageOrigin)))) {
      String hub = "https://127.0.0.1:" + f.hub.address().getPort();
      byte[] page = page(hub).getBytes(StandardCharsets.UTF_8);
      pages.createContext(
          "/",
          exchange -> {
            exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
            exchange.sendResponseHeaders(
                exchange.getRequestURI().getPath().equals("/") ? 200 : 404, page.length);
            exchange.getResponseBody().write(page);
            exchange.close();
          });
      pages.start();
      Chromium chromium = Chromium.start(1280, 800, "--ignore-certificate-errors");
      ChromeDriver browser = chromium.driver;
      try {
        browser.get(pageOrigin + "/");
        JavascriptExecutor js = browser;
        awaitTrue(js, "return window.opened === " + SOURCES, "all ten EventSources open");
        // Every stream is live: one publish reaches all ten.
        HttpClient http1 =
            HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .sslContext(cert.trusting())
                .build();
        for (int i = 0; i < SOURCES; i++) {
          HttpResponse<String> published =
              http1.send(
                  HttpRequest.newBuilder(URI.create(hub + "/events"))
                      .header("Content-Type", "application/json")
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              "{\"topic\": \"t" + i + "\", \"data\": \"to " + i + "\"}"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          assertThat(published.statusCode()).isEqualTo(201);
        }
        awaitTrue(
            js,
            "return window.received.filter(x => x).length === " + SOURCES,
            "an event on each of the ten");
        assertThat(js.executeScript("return window.received.join(',')"))
            .isEqualTo("to 0,to 1,to 2,to 3,to 4,to 5,to 6,to 7,to 8,to 9");
        // The metrics are read over HTTP/1.1: the only HTTP/2 connection is the browser's.
        String metrics =
            http1
                .send(
                    HttpRequest.newBuilder(URI.create(hub + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .body();
        assertThat(metrics)
            .containsPattern("herald_h2_connections(\\{[^}]*\\})? 1\\.0")
            .containsPattern("herald_h2_streams(\\{[^}]*\\})? " + SOURCES + "\\.0")
            .containsPattern("herald_subscriptions_active(\\{[^}]*\\})? " + SOURCES + "\\.0");
      } finally {
        chromium.close();
        pages.stop(0);
      }
    }
  }

  private static void awaitTrue(JavascriptExecutor js, String script, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Boolean.TRUE.equals(js.executeScript(script))) {
      assertThat(System.nanoTime()).as(what + " within 30 s").isLessThan(deadline);
      Thread.sleep(50); // polling the page's state, bounded by the deadline
    }
  }

  /** The test page: ten EventSources on ten topics of the hub, recording what each receives. */
  private static String page(String hub) {
    return "<!doctype html><meta charset=utf-8><title>herald h2</title><script>\n"
        + "window.opened = 0; window.received = [];\n"
        + "for (let i = 0; i < "
        + SOURCES
        + "; i++) {\n"
        + "  const source = new EventSource('"
        + hub
        + "/events?topic=t' + i);\n"
        + "  source.onopen = () => { window.opened++; };\n"
        + "  source.onmessage = e => { window.received[i] = e.data; };\n"
        + "}\n"
        + "</script>";
  }
}
