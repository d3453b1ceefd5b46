package dev.herald.client;

import dev.herald.core.internal.DaemonThreads;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The resources every {@link EventSource} shares unless it is given its own: one worker pool, one
 * timer thread and one {@link HttpClient}. Sharing is what keeps thousands of sources from costing
 * thousands of threads: an {@code HttpClient} owns a selector thread for its whole life, and a
 * source that is only waiting for bytes uses no thread at all.
 *
 * <p>Every thread here is a daemon and ends after {@link #IDLE_SECONDS} without work, so an
 * application that closes all its sources returns to its own thread count.
 */
final class DefaultResources {
  /** How long an idle pool or timer thread lives. */
  static final long IDLE_SECONDS = 5;

  private DefaultResources() {}

  /** The pool that runs each source's serial tasks (and the default client's internal work). */
  static Executor pool() {
    return Pool.INSTANCE;
  }

  /** The single timer thread behind reconnection delays and read-timeout watchdogs. */
  static ScheduledExecutorService timer() {
    return Timer.INSTANCE;
  }

  /** The client used by sources built without {@link EventSource.Builder#httpClient}. */
  static HttpClient httpClient() {
    return Client.INSTANCE;
  }

  // Holder classes: nothing is created until a source first needs it.

  private static final class Pool {
    static final ThreadPoolExecutor INSTANCE =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            IDLE_SECONDS,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            DaemonThreads.named("herald-client-worker"));
  }

  private static final class Timer {
    static final ScheduledThreadPoolExecutor INSTANCE = create();

    private static ScheduledThreadPoolExecutor create() {
      ScheduledThreadPoolExecutor timer =
          new ScheduledThreadPoolExecutor(1, DaemonThreads.named("herald-client-timer"));
      // Cancelled watchdogs leave the queue at once instead of piling up until their deadline.
      timer.setRemoveOnCancelPolicy(true);
      timer.setKeepAliveTime(IDLE_SECONDS, TimeUnit.SECONDS);
      // The thread only ends when no task is queued, so pending delays still fire.
      timer.allowCoreThreadTimeOut(true);
      return timer;
    }
  }

  private static final class Client {
    // HTTP/1.1: one long-lived response per connection is what SSE servers and proxies expect,
    // and it avoids the h2c upgrade headers the JDK adds to cleartext requests. Redirects are
    // followed by EventSource itself, under the fetch rules.
    static final HttpClient INSTANCE =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(10))
            .executor(pool())
            .build();
  }
}
