package dev.herald.hub;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * A real headless Chromium, driven through Debian's {@code chromedriver}: {@code /usr/bin/chromium}
 * and {@code /usr/bin/chromedriver} from the packages {@code chromium} and {@code chromium-driver}
 * ({@code .ci/run} installs them). Both paths are given explicitly, so Selenium Manager never runs
 * and nothing is downloaded. Each browser gets a fresh profile directory, deleted on {@link
 * #close()}.
 *
 * <p>Without the packages the tests fail with a message saying what to install when {@code CI} is
 * {@code true} (a CI run must never pass by skipping them), and are skipped elsewhere.
 */
final class Chromium implements AutoCloseable {
  static final Path BROWSER = Path.of("/usr/bin/chromium");
  static final Path DRIVER = Path.of("/usr/bin/chromedriver");

  final ChromeDriver driver;
  private final Path profile;

  private Chromium(ChromeDriver driver, Path profile) {
    this.driver = driver;
    this.profile = profile;
  }

  /**
   * Starts a browser with a window of {@code width} x {@code height}, and any {@code extra}
   * command-line switches (e.g. {@code --ignore-certificate-errors} for a test certificate).
   */
  static Chromium start(int width, int height, String... extra) throws IOException {
    requireInstalled();
    // The driver is named explicitly (here and on the service): Selenium never looks for one.
    System.setProperty(ChromeDriverService.CHROME_DRIVER_EXE_PROPERTY, DRIVER.toString());
    Path profile = Files.createTempDirectory("herald-chromium-");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(BROWSER.toFile());
    options.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        "--window-size=" + width + "," + height,
        "--user-data-dir=" + profile);
    options.addArguments(extra);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(DRIVER.toFile())
            .usingAnyFreePort()
            .withLogOutput(java.io.OutputStream.nullOutputStream())
            .build();
    ChromeDriver driver;
    try {
      driver = new ChromeDriver(service, options);
    } catch (RuntimeException e) {
      delete(profile);
      throw e;
    }
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(20));
    return new Chromium(driver, profile);
  }

  private static void requireInstalled() {
    if (Files.isExecutable(BROWSER) && Files.isExecutable(DRIVER)) {
      return;
    }
    String message =
        "the browser tests need Debian's chromium and chromedriver at "
            + BROWSER
            + " and "
            + DRIVER
            + ": apt-get install chromium chromium-driver (.ci/run installs them)";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      Assertions.fail(message);
    }
    Assumptions.abort(message);
  }

  @Override
  public void close() {
    try {
      driver.quit();
    } finally {
      delete(profile);
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    } catch (IOException e) {
      // a temporary directory: the OS cleans it eventually
    }
  }
}
