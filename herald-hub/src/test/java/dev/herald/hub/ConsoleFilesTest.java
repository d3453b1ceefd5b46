package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The console's files over HTTP: what {@code GET /} and {@code /console/...} answer, the headers
 * that confine the page, revalidation, and the paths that are not there (also with the console
 * off). The page's behaviour is {@link ConsoleBrowserTest}'s.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConsoleFilesTest {
  private static final String POLICY =
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
          + " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';"
          + " require-trusted-types-for 'script'; trusted-types 'none'";

  private static HubFixture f;

  @BeforeAll
  static void start() {
    f = new HubFixture(Hub.builder());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static void assertConfined(HttpResponse<String> answer) {
    assertThat(answer.headers().firstValue("Content-Security-Policy")).hasValue(POLICY);
    assertThat(answer.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(answer.headers().firstValue("X-Frame-Options")).hasValue("DENY");
    assertThat(answer.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
    assertThat(answer.headers().firstValue("Cross-Origin-Opener-Policy")).hasValue("same-origin");
  }

  @Test
  void theRootIsTheConsolePageWithAStrictContentSecurityPolicy() throws Exception {
    HttpResponse<String> page = f.get("/");

    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertConfined(page);
    assertThat(page.body())
        .contains("<script type=\"module\" src=\"console/console.js\"></script>")
        .doesNotContain("http://")
        .doesNotContain("https://");
    // No inline script or style: the policy would block them, and the page needs none.
    assertThat(page.body()).doesNotContainPattern("<script(?![^>]*\\bsrc=)[^>]*>");
    assertThat(page.body()).doesNotContain("<style").doesNotContain(" style=");
  }

  @Test
  void everyFileThePageNamesIsServedConfinedFromTheJarAndNothingFromElsewhere() throws Exception {
    String page = f.get("/").body();
    Matcher named = Pattern.compile("(?:src|href)=\"(console/[^\"]+)\"").matcher(page);
    List<String> files = named.results().map(m -> m.group(1)).distinct().toList();
    assertThat(files).contains("console/console.js", "console/console.css", "console/icon.svg");

    for (String file : files) {
      HttpResponse<String> answer = f.get("/" + file);
      assertThat(answer.statusCode()).as(file).isEqualTo(200);
      assertConfined(answer);
    }
    for (String module : List.of("console", "api", "stream", "tail", "panels")) {
      HttpResponse<String> js = f.get("/console/" + module + ".js");
      assertThat(js.statusCode()).as(module).isEqualTo(200);
      assertThat(js.headers().firstValue("Content-Type"))
          .hasValue("text/javascript; charset=utf-8");
      // Modules import only each other, by relative path: no CDN, nothing to build.
      assertThat(js.body()).doesNotContainPattern("from '(?!\\./)").doesNotContain("innerHTML");
    }
    assertThat(f.get("/console/console.css").headers().firstValue("Content-Type"))
        .hasValue("text/css; charset=utf-8");
    assertThat(f.get("/console/icon.svg").headers().firstValue("Content-Type"))
        .hasValue("image/svg+xml");
  }

  @Test
  void anUnchangedFileIsRevalidatedWith304() throws Exception {
    HttpResponse<String> first = f.get("/console/console.js");
    String etag = first.headers().firstValue("ETag").orElseThrow();
    assertThat(first.headers().firstValue("Cache-Control")).hasValue("no-cache");

    HttpResponse<String> again = f.get("/console/console.js", "If-None-Match", etag);
    assertThat(again.statusCode()).isEqualTo(304);
    assertThat(again.body()).isEmpty();
    assertThat(again.headers().firstValue("ETag")).hasValue(etag);
    assertConfined(again);

    HttpResponse<String> other = f.get("/console/console.js", "If-None-Match", "\"stale\"");
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(other.body()).isEqualTo(first.body());
  }

  @Test
  void aFileThatIsNotPartOfTheConsoleIs404() throws Exception {
    for (String path :
        List.of(
            "/console/", "/console/nope.js", "/console/../pom.xml", "/console/%2e%2e/Hub.class")) {
      HttpResponse<String> answer = f.get(path);
      assertThat(answer.statusCode()).as(path).isEqualTo(404);
      JsonNode body = HubFixture.json(answer.body());
      assertThat(body.get("error").asText()).isEqualTo("not_found");
      assertThat(body.get("message").asText()).contains("the console is at /");
    }
  }

  @Test
  void theConsoleAnswersOnlyGet() throws Exception {
    HttpResponse<String> post =
        f.client.send(
            HttpRequest.newBuilder(f.uri("/"))
                .POST(HttpRequest.BodyPublishers.ofString("x"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    assertThat(HubFixture.json(post.body()).get("error").asText()).isEqualTo("method_not_allowed");
  }

  @Test
  void withTheConsoleOffItsPathsAre404AndTheApiStillAnswers() throws Exception {
    try (HubFixture off = new HubFixture(Hub.builder().console(false))) {
      for (String path : List.of("/", "/console/console.js", "/console/index.html")) {
        HttpResponse<String> answer = off.get(path);
        assertThat(answer.statusCode()).as(path).isEqualTo(404);
        JsonNode body = HubFixture.json(answer.body());
        assertThat(body.get("error").asText()).isEqualTo("not_found");
        assertThat(body.get("message").asText()).doesNotContain("the console");
        assertThat(answer.headers().firstValue("Content-Security-Policy")).isEmpty();
      }
      assertThat(off.get("/stats").statusCode()).isEqualTo(200);
      assertThat(off.get("/healthz").statusCode()).isEqualTo(200);
    }
  }
}
