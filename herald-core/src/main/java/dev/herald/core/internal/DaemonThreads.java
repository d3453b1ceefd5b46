package dev.herald.core.internal;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread factories for the libraries' own threads: daemons, so they never keep a JVM alive. Not
 * API: for Herald's own modules.
 */
public final class DaemonThreads {
  private DaemonThreads() {}

  /** Daemon threads named {@code name-1}, {@code name-2}, ... */
  public static ThreadFactory named(String name) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
