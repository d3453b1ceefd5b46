package dev.herald.hub;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Captures every log line of the hub and of Netty (at DEBUG, so Netty's own logging is included)
 * while open: the formatted message, the arguments and any exception with its stack.
 */
final class LogCapture implements AutoCloseable {
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private final List<Logger> loggers = new ArrayList<>();
  private final List<Level> levels = new ArrayList<>();
  private final List<Boolean> additive = new ArrayList<>();

  LogCapture() {
    this(List.of());
  }

  /**
   * Also captures {@code quietened}, loggers that the test configuration quietens on their own
   * (such as {@code dev.herald.hub.Hub}, whose start-up lines every test hub would print).
   */
  LogCapture(List<String> quietened) {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    appender.setContext(context);
    appender.start();
    List<String> names = new ArrayList<>(List.of("io.netty", "dev.herald"));
    names.addAll(quietened);
    // Captured here only (not additive), so DEBUG lines do not flood the test output.
    for (String name : names) {
      Logger logger = context.getLogger(name);
      loggers.add(logger);
      levels.add(logger.getLevel());
      additive.add(logger.isAdditive());
      logger.setLevel(Level.DEBUG);
      logger.setAdditive(false);
      logger.addAppender(appender);
    }
  }

  /** Everything logged so far, one string per line, with stack traces. */
  synchronized List<String> lines() {
    return lines(Level.ALL);
  }

  /** What was logged at {@code atLeast} or above so far, one string per line, with stack traces. */
  synchronized List<String> lines(Level atLeast) {
    List<String> lines = new ArrayList<>();
    for (ILoggingEvent event : List.copyOf(appender.list)) {
      if (!event.getLevel().isGreaterOrEqual(atLeast)) {
        continue;
      }
      StringBuilder s = new StringBuilder(event.getFormattedMessage());
      IThrowableProxy thrown = event.getThrowableProxy();
      if (thrown != null) {
        s.append('\n').append(ThrowableProxyUtil.asString(thrown));
      }
      lines.add(s.toString());
    }
    return lines;
  }

  @Override
  public void close() {
    for (int i = 0; i < loggers.size(); i++) {
      loggers.get(i).detachAppender(appender);
      loggers.get(i).setLevel(levels.get(i));
      loggers.get(i).setAdditive(additive.get(i));
    }
    appender.stop();
  }
}
