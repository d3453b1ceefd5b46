package dev.herald.hub.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The refusal log on a clock the test moves: per reason, one line in full per interval, the rest
 * counted and logged as one line when the interval ends, so every refusal is accounted for.
 */
class RefusalLogTest {
  private static final Duration INTERVAL = Duration.ofSeconds(10);

  private final AtomicLong now = new AtomicLong();
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger("refusal-log-test");
  // Its flushes are due an interval later, which this test's clock never reaches in real time.
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final RefusalLog log = new RefusalLog(logger, INTERVAL, now::get);

  @BeforeEach
  void capture() {
    appender.start();
    logger.addAppender(appender);
    // The test configuration logs WARN and above; here only this appender sees the INFO lines.
    logger.setLevel(Level.INFO);
    logger.setAdditive(false);
  }

  @AfterEach
  void release() throws InterruptedException {
    logger.detachAppender(appender);
    logger.setLevel(null);
    logger.setAdditive(true);
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private static Refusal full() {
    return Refusal.unavailable("too_many_connections", "full", 5);
  }

  private List<String> lines() {
    return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void admitsTheFirstOfAReasonPerIntervalAndCountsTheRest() {
    assertThat(log.admit(full(), timer)).isTrue();
    for (int i = 0; i < 999; i++) {
      assertThat(log.admit(full(), timer)).isFalse();
    }
    assertThat(log.admit(Refusal.badRequest("topic_invalid", "bad"), timer))
        .as("another reason has its own interval")
        .isTrue();
    assertThat(lines()).isEmpty();
    log.flush();
    assertThat(lines())
        .singleElement()
        .asString()
        .startsWith("refused 999 more: 503 too_many_connections");
  }

  @Test
  void theNextIntervalLogsTheLastCountThenItsFirstRefusalInFull() {
    log.admit(full(), timer);
    log.admit(full(), timer);
    log.admit(full(), timer);
    now.addAndGet(INTERVAL.toNanos());
    assertThat(log.admit(full(), timer)).isTrue();
    assertThat(lines())
        .singleElement()
        .asString()
        .startsWith("refused 2 more: 503 too_many_connections");
    log.flush();
    assertThat(lines()).hasSize(1);
  }
}
