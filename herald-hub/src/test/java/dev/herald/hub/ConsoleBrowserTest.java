package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herald.sqlite.SqliteEventLog;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console at {@code /} in a real headless Chromium ({@link Chromium}): subscribing and
 * publishing from its forms, resuming across a hub restart, {@code reset}, auth with a token,
 * hostile text, a burst of 10,000 events, and the console turned off. One browser serves every
 * test; each test loads the page from its own hub.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ConsoleBrowserTest {
  private static Chromium chromium;

  @TempDir Path dir;

  @BeforeAll
  static void startBrowser() throws Exception {
    chromium = Chromium.start(1400, 1250);
  }

  @AfterAll
  static void stopBrowser() {
    if (chromium != null) {
      chromium.close();
    }
  }

  private static ConsolePage page(HubFixture hub) {
    return new ConsolePage(chromium.driver, hub.hub).open();
  }

  @Test
  void subscribesAndPublishesFromTheFormsAndShowsEachEvent() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder())) {
      String earlier =
          f.publish(
              "{\"topic\": \"news\", \"type\": \"headline\", \"data\": {\"title\": \"Herald 0.1\"}}");
      ConsolePage page = page(f);
      page.subscribe("news", "alice", "earliest", "laptop-01");
      assertThat(page.awaitOpen())
          .contains("topics: news, members/alice")
          .contains("device laptop-01")
          .contains("Last-Event-ID: earliest");
      assertThat(page.awaitRows(1).get(0))
          .containsEntry("id", earlier)
          .containsEntry("type", "headline");

      String answer =
          page.publish(
              "news", "headline", "json", "{\"title\": \"Herald ships\", \"tags\": [\"sse\"]}", "");
      String id = idIn(answer);
      assertThat(answer).contains("201 published: id " + id + ", reached 1 stream");
      Map<String, Object> row = page.awaitRows(2).get(0);
      assertThat(row).containsEntry("id", id).containsEntry("type", "headline");
      assertThat(row.get("data"))
          .isEqualTo("{\n  \"title\": \"Herald ships\",\n  \"tags\": [\n    \"sse\"\n  ]\n}");
      // What the hub stored is the compact JSON the form sent.
      try (SseStream history = f.subscribe("?topic=news", "Last-Event-ID", earlier)) {
        assertThat(history.next().data())
            .isEqualTo("{\"title\":\"Herald ships\",\"tags\":[\"sse\"]}");
      }

      String text = page.publish("news", "", "text", "plain words, not JSON", "");
      assertThat(page.awaitRows(3).get(0))
          .containsEntry("id", idIn(text))
          .containsEntry("type", "message")
          .containsEntry("data", "plain words, not JSON");

      String shipped = page.publishToMember("alice", "ORDER_SHIPPED", "json", "{\"order\": 42}");
      Map<String, Object> member = page.awaitRows(4).get(0);
      assertThat(member).containsEntry("id", idIn(shipped)).containsEntry("type", "ORDER_SHIPPED");
      assertThat((String) member.get("data")).contains("\"order\": 42").contains("\"timestamp\"");

      // An Idempotency-Key: the retry answers the first id and publishes nothing.
      String first = page.publish("news", "price", "json", "{\"eur\": 1.08}", "price-1");
      String retry = page.publish("news", "price", "json", "{\"eur\": 1.08}", "price-1");
      assertThat(idIn(retry)).isEqualTo(idIn(first));
      assertThat(retry).contains("Idempotent-Replayed");

      // The hub's refusal is shown with its code and message; nothing is published.
      String refused = page.publishToMember("alice", "", "json", "{}");
      assertThat(refused).startsWith("400 event_type_missing: ");
      String invalid = page.publish("news", "x", "json", "{not json", "");
      assertThat(invalid).contains("not sent: the data is not valid JSON");

      page.script("document.getElementById('presence-kind').value = 'member';");
      page.type("presence-name", "alice");
      page.byId("presence-look").click();
      page.await("presence shown", () -> page.attribute("presence-result", "hidden") == null);
      assertThat(page.text("presence-result"))
          .contains("members/alice")
          .contains("1 subscription")
          .contains("1 device")
          .contains("laptop-01");

      page.await("the stats show the stream", () -> page.text("st-streams").equals("1"));
      page.await("the stats show the store", () -> page.text("st-store").equals("memory: up"));
      assertThat(page.rowCount()).isEqualTo(5); // the retry and both refusals added no row

      String last =
          page.publish("news", "headline", "json", "{\"title\": \"Seen in the console\"}", "");
      assertThat(page.awaitRows(6).get(0)).containsEntry("id", idIn(last));
      assertThat(page.rows()).noneMatch(r -> (Boolean) r.get("outOfOrder"));
      assertThat(page.text("tail-counts")).startsWith("received 6 · 6 kept");
      page.screenshot("console-tail");
    }
  }

  private static String idIn(String answer) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("id (\\d+)").matcher(answer);
    assertThat(m.find()).as("an id in: %s", answer).isTrue();
    return m.group(1);
  }

  @Test
  void resumesAfterAHubRestartWithoutGapOrDuplicate() throws Exception {
    Path file = dir.resolve("events.db");
    List<String> ids = new ArrayList<>();
    HubFixture first =
        new HubFixture(Hub.builder().log(SqliteEventLog.builder().path(file).build()));
    int port = first.hub.address().getPort();
    ConsolePage page;
    try {
      page = page(first);
      page.subscribe("restart", "earliest");
      page.awaitOpen();
      for (int i = 0; i < 5; i++) {
        ids.add(first.publish("{\"topic\": \"restart\", \"data\": {\"n\": " + i + "}}"));
      }
      page.awaitRows(5);
    } finally {
      first.close();
    }
    page.await(
        "the page says it reconnects",
        () -> page.text("conn-detail").contains("will resume with Last-Event-ID: " + ids.get(4)));
    assertThat(page.text("conn-state")).isEqualTo("reconnecting");

    try (HubFixture second =
        new HubFixture(Hub.builder().log(SqliteEventLog.builder().path(file).build()), port)) {
      assertThat(second.hub.address().getPort()).isEqualTo(port);
      for (int i = 5; i < 10; i++) {
        ids.add(second.publish("{\"topic\": \"restart\", \"data\": {\"n\": " + i + "}}"));
      }
      List<Map<String, Object>> rows = page.awaitRows(10);
      List<Object> shown = rows.stream().map(r -> r.get("id")).toList();
      List<String> newestFirst = new ArrayList<>(ids);
      java.util.Collections.reverse(newestFirst);
      assertThat(shown).containsExactlyElementsOf(newestFirst);
      assertThat(rows).noneMatch(r -> (Boolean) r.get("outOfOrder") || (Boolean) r.get("reset"));
      assertThat(page.awaitOpen()).contains("resumed after " + ids.get(4));
      assertThat(page.text("tail-counts")).startsWith("received 10 ·");
    }
  }

  @Test
  void showsAResetForAnUnknownLastEventIdThenTheRetainedHistory() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder())) {
      String a = f.publish("{\"topic\": \"history\", \"type\": \"a\", \"data\": 1}");
      String b = f.publish("{\"topic\": \"history\", \"type\": \"b\", \"data\": 2}");
      ConsolePage page = page(f);
      page.subscribe("history", "9999999999999999999");
      assertThat(page.awaitOpen()).contains("resumed after 9999999999999999999");
      List<Map<String, Object>> rows = page.awaitRows(3);
      Map<String, Object> reset = rows.get(2);
      assertThat(reset)
          .containsEntry("type", "reset")
          .containsEntry("reset", true)
          .containsEntry("id", "(no id)");
      assertThat((String) reset.get("notice"))
          .startsWith("RESET (unknown): cannot resume after \"9999999999999999999\"")
          .contains("All retained history follows");
      assertThat(rows.get(1)).containsEntry("id", a);
      assertThat(rows.get(0)).containsEntry("id", b);
      // The reset stands out: its own colours, and it shows whatever the type filter says.
      page.type("tail-filter", "b");
      assertThat(page.rows()).extracting(r -> r.get("hidden")).containsExactly(false, true, false);
      String resetBackground =
          (String)
              page.script(
                  "return getComputedStyle(document.querySelector('#rows > li.reset')).backgroundColor;");
      String plainBackground =
          (String)
              page.script(
                  "return getComputedStyle(document.querySelector('#rows > li:not(.reset)')).backgroundColor;");
      assertThat(resetBackground).isNotEqualTo(plainBackground);
      page.type("tail-filter", "");
      page.screenshot("console-reset");
    }
  }

  @Test
  void asksForATokenWhenTheHubHasKeysAndSendsItWithEveryCall() throws Exception {
    // With a CORS allowlist too: the console's own calls are same-origin, never refused by it.
    try (HubFixture f =
        new HubFixture(
            Hub.builder().jwtSecret(Tokens.SECRET).corsOrigins(List.of("https://app.example")))) {
      ConsolePage page = page(f);
      // The first call (the stats) is refused: the page asks for a token, saying why.
      page.await(
          "the token dialog",
          () -> (Boolean) page.script("return document.getElementById('token-dialog').open;"));
      assertThat(page.text("token-reason")).startsWith("401 token_missing: ");
      assertThat(page.text("auth-state")).isEqualTo("this hub needs a token");
      page.screenshot("console-token");

      String token = Tokens.hs256(Tokens.claims("alice", List.of("news"), List.of("news")).build());
      page.type("token-input", token);
      page.byId("token-use").click();
      page.await(
          "the token is in use",
          () -> page.text("auth-state").startsWith("token: alice, expires "));
      page.await("the stats answer", () -> page.text("st-streams").equals("0"));

      page.subscribe("news", "live");
      page.awaitOpen();
      String answer = page.publish("news", "headline", "json", "{\"signed\": true}", "");
      assertThat(answer).contains("201 published");
      assertThat(page.awaitRows(1).get(0)).containsEntry("id", idIn(answer));

      // A topic the token may not read: the hub's 403 is shown, and the stream is closed.
      page.subscribe("secret", "live");
      page.await("the refusal", () -> "closed".equals(page.attribute("conn", "data-state")));
      assertThat(page.text("conn-detail")).contains("403 topic_not_allowed: ");
      assertThat(page.publish("secret", "x", "json", "1", ""))
          .startsWith("403 publish_not_allowed: ");

      // The token went in the Authorization header: never in a URL, never in a cookie.
      @SuppressWarnings("unchecked")
      List<String> urls =
          (List<String>)
              page.script("return performance.getEntriesByType('resource').map(e => e.name);");
      assertThat(urls).isNotEmpty().noneMatch(u -> u.contains("access_token") || u.contains(token));
      assertThat(page.script("return document.cookie;")).isEqualTo("");
      // Without the token the same calls are refused: the page did send it.
      assertThat(f.get("/stats").statusCode()).isEqualTo(401);
    }
  }

  @Test
  void showsHostileDataTypesIdsAndTopicsAsTextAndRunsNothing() throws Exception {
    String img = "<img src=x onerror=\"window.__pwned=1\">";
    String script = "</script><script>window.__pwned=2</script>";
    String idPayload = "<img src=x onerror=window.__pwned=3>";
    String devicePayload = "<img/src=x/onerror=window.__pwned=4>";
    try (HubFixture f = new HubFixture(Hub.builder())) {
      ConsolePage page = page(f);
      page.subscribe(img, "", idPayload, devicePayload);
      page.awaitOpen();
      page.awaitRows(1); // the reset for the unknown id, which carries it back
      String topic = f.JSON.writeValueAsString(img);
      f.publish(
          "{\"topic\": "
              + topic
              + ", \"type\": "
              + f.JSON.writeValueAsString(img)
              + ", \"data\": "
              + f.JSON.writeValueAsString(script)
              + "}");
      f.publish(
          "{\"topic\": "
              + topic
              + ", \"type\": "
              + f.JSON.writeValueAsString(script)
              + ", \"data\": {\"html\": "
              + f.JSON.writeValueAsString(img)
              + "}}");
      page.publish(img, img, "text", img, "");
      List<Map<String, Object>> rows = page.awaitRows(4);

      assertThat(rows.get(3)).containsEntry("type", "reset");
      assertThat((String) rows.get(3).get("notice")).contains("\"" + idPayload + "\"");
      assertThat(rows.get(2)).containsEntry("type", img).containsEntry("data", script);
      assertThat(rows.get(1))
          .containsEntry("type", script)
          .containsEntry("data", "{\n  \"html\": " + f.JSON.writeValueAsString(img) + "\n}");
      assertThat(rows.get(0)).containsEntry("type", img).containsEntry("data", img);
      assertThat(page.text("conn-detail"))
          .contains("topics: " + img)
          .contains("device " + devicePayload);

      page.type("presence-name", img);
      page.byId("presence-look").click();
      page.await("presence shown", () -> page.attribute("presence-result", "hidden") == null);
      assertThat(page.text("presence-result")).contains(img).contains(devicePayload);

      assertThat(page.script("return typeof window.__pwned;")).isEqualTo("undefined");
      assertThat(page.script("return document.querySelectorAll('main img, main script').length;"))
          .isEqualTo(0L);
      assertThat(page.script("return window.__violations;")).asList().isEmpty();
    }
  }

  @Test
  void aBurstOfTenThousandEventsKeepsThePageResponsiveAndTheRowCapHolds() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().publishRate(0))) {
      ConsolePage page = page(f);
      page.subscribe("burst", "live");
      page.awaitOpen();
      // The browser's own measure of each click (Event Timing): how long the input waited for the
      // page's main thread, and how long its handler ran.
      page.script(
          "window.__clicks = []; new PerformanceObserver(list => { for (const e of list.getEntries())"
              + " if (e.name === 'click') window.__clicks.push({delay: e.processingStart - e.startTime,"
              + " handler: e.processingEnd - e.processingStart}); })"
              + ".observe({type: 'event', durationThreshold: 16, buffered: false});"
              + "window.__longest = 0; new PerformanceObserver(list => { for (const e of list.getEntries())"
              + " window.__longest = Math.max(window.__longest, e.duration); })"
              + ".observe({type: 'longtask', buffered: false});");
      // 10 batches of 1000 events, sent as fast as the hub takes them, while the test clicks.
      CompletableFuture<String> burst =
          CompletableFuture.supplyAsync(
              () -> {
                String last = null;
                for (int batch = 0; batch < 10; batch++) {
                  last = publishBatch(f, batch);
                }
                return last;
              });
      List<Long> clickMillis = new ArrayList<>();
      long mostRows = 0;
      page.await(
          "the burst to start arriving", () -> !page.text("tail-counts").startsWith("received 0 "));
      do {
        // Pause, then resume: each click must take effect at once, burst or not.
        for (String pressed : List.of("true", "false")) {
          long clicked = System.nanoTime();
          page.byId("tail-pause").click();
          page.await(
              "the click took effect",
              () -> pressed.equals(page.attribute("tail-pause", "aria-pressed")));
          clickMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - clicked));
        }
        mostRows = Math.max(mostRows, page.rowCount());
      } while (!burst.isDone() && clickMillis.size() < 200);
      String newest = burst.get(60, TimeUnit.SECONDS);

      page.await(
          "every event arrived", () -> page.text("tail-counts").startsWith("received 10000 "));
      page.await(
          "the newest is shown",
          () ->
              newest.equals(
                  page.script("return document.querySelector('#rows > li').dataset.id;")));
      // Wall-clock (the test, chromedriver, the hub and the browser share 2 cores): coarse bounds
      // that a page rendering the burst at once, or freezing, still fails.
      assertThat(((Number) page.script("return window.__longest;")).doubleValue())
          .as("the longest task that held the page, ms")
          .isLessThan(1000);
      assertThat(clickMillis)
          .as("clicks during the burst, ms until they took effect")
          .allMatch(ms -> ms < 3000);
      @SuppressWarnings("unchecked")
      List<Map<String, Number>> clicks =
          (List<Map<String, Number>>) page.script("return window.__clicks;");
      assertThat(clicks)
          .as("clicks the browser timed (those of 16 ms or more)")
          .allSatisfy(
              click -> {
                assertThat(click.get("delay").doubleValue()).as("input delay, ms").isLessThan(250);
                assertThat(click.get("handler").doubleValue()).as("handler, ms").isLessThan(50);
              });
      assertThat(mostRows).as("rows at any time").isLessThanOrEqualTo(500);
      assertThat(page.rowCount()).isEqualTo(500);
      assertThat(page.text("tail-counts")).contains("500 kept").contains("cap 500");
      assertThat(page.rows()).noneMatch(r -> (Boolean) r.get("outOfOrder"));
    }
  }

  /** Publishes events {@code batch * 1000 ...} in one request; returns the last id. */
  private static String publishBatch(HubFixture f, int batch) {
    StringBuilder body = new StringBuilder("[");
    for (int i = 0; i < 1000; i++) {
      body.append(i == 0 ? "" : ",")
          .append("{\"topic\": \"burst\", \"type\": \"tick\", \"data\": {\"n\": ")
          .append(batch * 1000 + i)
          .append(", \"nested\": {\"pad\": \"")
          .append("x".repeat(64))
          .append("\", \"list\": [1, 2, 3]}}}");
    }
    try {
      HttpResponse<String> answer = f.post(body.append(']').toString());
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
      JsonNode ids = HubFixture.json(answer.body()).get("ids");
      return ids.get(ids.size() - 1).asText();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void withTheConsoleOffTheRootIsANotFound() throws Exception {
    try (HubFixture f = new HubFixture(Hub.builder().console(false))) {
      chromium.driver.get("http://127.0.0.1:" + f.hub.address().getPort() + "/");
      String body = (String) chromium.driver.executeScript("return document.body.innerText;");
      assertThat(body).contains("\"error\":\"not_found\"");
      assertThat(
              chromium.driver.executeScript("return document.querySelectorAll('script').length;"))
          .isEqualTo(0L);
    }
  }
}
