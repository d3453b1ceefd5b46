package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.core.Event;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.JavascriptExecutor;

/**
 * A shed subscriber comes back and loses nothing: a real Chromium EventSource, and herald-client's,
 * receive an event, lose their stream while the hub's streams are full (a newer stream of the same
 * device takes their place), are shed ({@code 200}, {@code retry:}) on every reconnection while it
 * stays full — where a 503 would have failed the browser's EventSource for good — and, once a place
 * is free, resume with {@code Last-Event-ID}: every event exactly once, in order.
 *
 * <p>The hub holds 100 connections, so streams may hold 98 ({@link Hub#maxStreams}): 97 fillers and
 * the client's stream; the replacing stream keeps the count at 98, so each reconnection is shed
 * deterministically until the test closes it.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ShedReconnectTest {
  private static final int MAX_CONNECTIONS = 100;
  private static final Duration BOUND = Duration.ofSeconds(30);
  private static final String FILL =
      "GET /events?topic=filler HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";

  @Test
  void aShedBrowserEventSourceReconnectsLaterAndReceivesEveryEventOnce() throws Exception {
    HttpServer pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    String pageOrigin = "http://127.0.0.1:" + pages.getAddress().getPort();
    try (HubFixture f =
        new HubFixture(
            Hub.builder().maxConnections(MAX_CONNECTIONS).corsOrigins(List.of(pageOrigin)))) {
      String hub = "http://127.0.0.1:" + f.hub.address().getPort();
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
      Chromium chromium = Chromium.start(800, 600);
      try {
        JavascriptExecutor js = chromium.driver;
        chromium.driver.get(pageOrigin + "/");
        await(() -> Boolean.TRUE.equals(js.executeScript("return window.opens === 1")), "open");
        run(
            f,
            () -> ((Number) js.executeScript("return window.errors")).longValue(),
            () -> (String) js.executeScript("return window.received.join(',')"),
            () -> ((Number) js.executeScript("return window.source.readyState")).intValue());
      } finally {
        chromium.close();
        pages.stop(0);
      }
    }
  }

  @Test
  void aShedHeraldClientReconnectsLaterAndReceivesEveryEventOnce() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().maxConnections(MAX_CONNECTIONS))) {
      List<String> received = new CopyOnWriteArrayList<>();
      List<Throwable> errors = new CopyOnWriteArrayList<>();
      EventSource source =
          EventSource.builder(f.uri("/events?topic=t&deviceId=dev1"))
              .listener(
                  new EventSourceListener() {
                    @Override
                    public void onEvent(Event event) {
                      received.add(event.data());
                    }

                    @Override
                    public void onError(Throwable error, java.util.Optional<Duration> retry) {
                      errors.add(error);
                    }
                  })
              .build();
      source.start();
      try {
        // The hub writes the head once the subscription is made: e1 is live for it.
        await(() -> source.readyState() == EventSource.ReadyState.OPEN, "open");
        run(
            f,
            () -> errors.size(),
            () -> String.join(",", received),
            () -> source.readyState() == EventSource.ReadyState.CLOSED ? 2 : 1);
      } finally {
        source.close();
      }
    }
  }

  /**
   * The scenario, for a client on {@code ?topic=t&deviceId=dev1} that is open: {@code errors}
   * counts its lost connections, {@code received} lists the data it received, {@code state} is 2
   * once it has given up.
   */
  private static void run(
      HubFixture f,
      java.util.function.LongSupplier errors,
      java.util.function.Supplier<String> received,
      java.util.function.IntSupplier state)
      throws Exception {
    f.publish("{\"topic\": \"t\", \"data\": \"e1\"}");
    await(() -> received.get().equals("e1"), "e1");
    System.out.println(
        metric(f)
            .lines()
            .filter(
                l ->
                    l.startsWith("herald_subscriptions_active")
                        || l.startsWith("herald_connections"))
            .toList());
    List<RawConnection> fillers = new ArrayList<>();
    try {
      // All the streams' share but two places: the client's and the replacing stream's.
      for (int i = 0; i < Hub.maxStreams(MAX_CONNECTIONS) - 2; i++) {
        fillers.add(fill(f));
      }
      // The device's newer stream takes the client's place: the streams' share stays full.
      long lostAt = errors.getAsLong();
      RawConnection replacing = RawConnection.open(f.hub);
      replacing
          .send(
              "GET /events?topic=t&deviceId=dev1 HTTP/1.1\r\nHost: x\r\n"
                  + "Accept: text/event-stream\r\n\r\n")
          .await(":ok\n", BOUND);
      await(() -> errors.getAsLong() > lostAt, "the client's stream ended");
      // Its place, taken before it reconnects (EventSource waits 3 s by default): the share is
      // full.
      fillers.add(fill(f));
      // Shed at least once (too_many_streams), and never given up.
      await(
          () ->
              metric(f)
                  .matches("(?s).*herald_refusals_total\\{reason=\"too_many_streams\"} [1-9].*"),
          "a shed reconnection");
      f.publish("{\"topic\": \"t\", \"data\": \"e2\"}");
      f.publish("{\"topic\": \"t\", \"data\": \"e3\"}");
      assertThat(state.getAsInt()).as("the client did not give up").isNotEqualTo(2);
      replacing.close();
      // The place is free: the client's next retry gets in, resuming after e1.
      await(() -> received.get().equals("e1,e2,e3"), "e2 and e3 after the reconnection");
      f.publish("{\"topic\": \"t\", \"data\": \"e4\"}");
      await(() -> received.get().equals("e1,e2,e3,e4"), "e4 live");
      assertThat(state.getAsInt()).isNotEqualTo(2);
    } finally {
      for (RawConnection filler : fillers) {
        filler.close();
      }
    }
  }

  private static RawConnection fill(HubFixture f) throws Exception {
    RawConnection filler = RawConnection.open(f.hub);
    filler.send(FILL).await(":ok\n", BOUND);
    return filler;
  }

  private static String metric(HubFixture f) {
    try {
      return f.get("/metrics").body();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + BOUND.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what + " within " + BOUND).isLessThan(deadline);
      Thread.sleep(50); // polling the client's state, bounded by the deadline
    }
  }

  /** The page: one EventSource on topic t as device dev1, recording what it receives. */
  private static String page(String hub) {
    return "<!doctype html><meta charset=utf-8><title>herald shed</title><script>\n"
        + "window.opens = 0; window.errors = 0; window.received = [];\n"
        + "window.source = new EventSource('"
        + hub
        + "/events?topic=t&deviceId=dev1');\n"
        + "window.source.onopen = () => { window.opens++; };\n"
        + "window.source.onerror = () => { window.errors++; };\n"
        + "window.source.onmessage = e => { window.received.push(e.data); };\n"
        + "</script>";
  }
}
