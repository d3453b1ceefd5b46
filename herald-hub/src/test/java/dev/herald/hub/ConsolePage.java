package dev.herald.hub;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;

/** The hub's web console in a real browser: fills its forms and reads what it shows. */
final class ConsolePage {
  /** Where the screenshots go: {@code -Dherald.screenshots=../docs} refreshes the README's. */
  static final Path SCREENSHOTS =
      Path.of(System.getProperty("herald.screenshots", "target/screenshots"));

  private static final Duration WAIT = Duration.ofSeconds(20);

  final ChromeDriver driver;
  private final String base;

  ConsolePage(ChromeDriver driver, Hub hub) {
    this.driver = driver;
    this.base = "http://127.0.0.1:" + hub.address().getPort();
  }

  /** Loads the console and waits until its scripts run; records CSP violations from then on. */
  ConsolePage open() {
    driver.get(base + "/");
    await(
        "the console's scripts ran",
        () -> !"unknown".equals(attribute("auth-state", "data-state")));
    script(
        "window.__violations = [];"
            + "document.addEventListener('securitypolicyviolation',"
            + " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));");
    return this;
  }

  WebElement byId(String id) {
    return driver.findElement(By.id(id));
  }

  String text(String id) {
    return (String) script("return document.getElementById(arguments[0]).textContent;", id);
  }

  String attribute(String id, String name) {
    return (String)
        script(
            "return document.getElementById(arguments[0]).getAttribute(arguments[1]);", id, name);
  }

  void type(String id, String value) {
    WebElement field = byId(id);
    field.clear();
    if (!value.isEmpty()) {
      field.sendKeys(value);
    }
  }

  /** Subscribes: topics one per line, position "live", "earliest" or an id, a device or "". */
  void subscribe(String topics, String member, String position, String device) {
    type("sub-topics", topics);
    type("sub-member", member);
    Select select = new Select(byId("sub-position"));
    if (position.equals("live") || position.equals("earliest")) {
      select.selectByValue(position);
    } else {
      select.selectByValue("after");
      type("sub-after", position);
    }
    type("sub-device", device);
    byId("sub-start").click();
  }

  void subscribe(String topics, String position) {
    subscribe(topics, "", position, "");
  }

  /** Waits for the stream to be open and returns the status line. */
  String awaitOpen() {
    await("the stream is open", () -> "open".equals(attribute("conn", "data-state")));
    return text("conn-detail");
  }

  /** Publishes from the form to topics; format "json" or "text"; returns the answer shown. */
  String publish(String topics, String type, String format, String data, String key) {
    byId("publish-form").findElement(By.cssSelector("input[value='topics']")).click();
    type("pub-topics", topics);
    return send(type, format, data, key);
  }

  /** Publishes from the form in the member form; returns the answer shown. */
  String publishToMember(String member, String type, String format, String data) {
    byId("publish-form").findElement(By.cssSelector("input[value='member']")).click();
    type("pub-member", member);
    return send(type, format, data, "");
  }

  private String send(String type, String format, String data, String key) {
    type("pub-type", type);
    new Select(byId("pub-format")).selectByValue(format);
    type("pub-data", data);
    type("pub-key", key);
    script("document.getElementById('pub-result').hidden = true;");
    byId("pub-send").click();
    await("the publish was answered", () -> attribute("pub-result", "hidden") == null);
    return text("pub-result");
  }

  /** The rows of the tail, newest first: id, type, data and the notice a reset carries. */
  @SuppressWarnings("unchecked")
  List<Map<String, Object>> rows() {
    return (List<Map<String, Object>>)
        script(
            "return [...document.querySelectorAll('#rows > li')].map(li => ({"
                + " id: li.querySelector('.row-id').textContent,"
                + " type: li.querySelector('.row-type').textContent,"
                + " data: li.querySelector('.row-data').textContent,"
                + " reset: li.classList.contains('reset'),"
                + " outOfOrder: li.classList.contains('out-of-order'),"
                + " hidden: li.hidden,"
                + " notice: (li.querySelector('.reset-notice') || {textContent: ''}).textContent }));");
  }

  long rowCount() {
    return (Long) script("return document.querySelectorAll('#rows > li').length;");
  }

  /** Waits until {@code rows()} has {@code n} rows and returns them. */
  List<Map<String, Object>> awaitRows(int n) {
    await(n + " rows", () -> rowCount() == n);
    return rows();
  }

  Object script(String js, Object... args) {
    return driver.executeScript(js, args);
  }

  /** Polls {@code condition} until it holds, within 20 s. */
  void await(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out waiting for "
                + what
                + "; the status line says: "
                + text("conn")
                + " / "
                + text("tail-counts"));
      }
      try {
        Thread.sleep(20); // polling a condition in the browser, bounded by the deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
    }
  }

  /** Saves a screenshot of the window as {@code name}.png in {@link #SCREENSHOTS}. */
  Path screenshot(String name) throws IOException {
    Files.createDirectories(SCREENSHOTS);
    Path file = SCREENSHOTS.resolve(name + ".png");
    Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
    return file;
  }
}
