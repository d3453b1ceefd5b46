package dev.herald.cli;

import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.client.SseHttpException;
import dev.herald.core.Event;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code herald listen}: subscribes to an event stream and prints each dispatched event as one line
 * of JSON, {@code {"type": ..., "data": ..., "id": ...}}, flushed at once, and nothing else on
 * stdout. It reconnects as an {@code EventSource} does (with {@code Last-Event-ID}, backing off on
 * 5xx); it ends with 0 on a 204 No Content or after {@code --max-events}, and with 1 and a message
 * on stderr when the server refuses for good (a 4xx, a response that is not an event stream).
 */
@Command(
    name = "listen",
    mixinStandardHelpOptions = true,
    description = {
      "Subscribe to an event stream and print each event as one JSON line:",
      "{\"type\": ..., \"data\": ..., \"id\": ...} (id: the last event ID at dispatch, \"\" if none).",
      "Reconnects like a browser's EventSource. Exit 0 on 204 No Content or after --max-events;",
      "1 when the server refuses (4xx, not text/event-stream)."
    })
final class ListenCommand implements Callable<Integer> {
  static final int REFUSED = 1;

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--header",
      paramLabel = "'Name: value'",
      description = "A request header, sent on every connection (repeatable).")
  List<String> headers = new ArrayList<>();

  @Option(
      names = "--last-event-id",
      paramLabel = "ID",
      description = "Start after this event: sent as Last-Event-ID on the first connection.")
  String lastEventId;

  @Option(
      names = "--max-events",
      paramLabel = "N",
      description = "Exit 0 after printing N events (default: listen until stopped).")
  Long maxEvents;

  @Parameters(index = "0", paramLabel = "URL", description = "The event stream's URL.")
  String url;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (maxEvents != null && maxEvents < 1) {
      throw usage("--max-events must be at least 1, not " + maxEvents);
    }
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    EventSource source = configure().listener(new Printer(out, err, exit)).build();
    try {
      source.start();
      return exit.get();
    } catch (ExecutionException e) {
      // The printer only ever completes normally; anything else is a bug worth seeing.
      throw new IllegalStateException(e.getCause());
    } finally {
      source.close();
    }
  }

  /** The source's configuration from the command line, or a usage error naming the bad flag. */
  private EventSource.Builder configure() {
    EventSource.Builder builder;
    try {
      builder = EventSource.builder(URI.create(url));
    } catch (IllegalArgumentException e) {
      throw usage("URL '" + url + "' is not an absolute http or https URL");
    }
    for (String header : headers) {
      int colon = header.indexOf(':');
      if (colon <= 0) {
        throw usage("--header must look like 'Name: value', not '" + header + "'");
      }
      String name = header.substring(0, colon).strip();
      String value = header.substring(colon + 1).strip();
      if (name.equalsIgnoreCase("Last-Event-ID")) {
        throw usage("use --last-event-id instead of --header 'Last-Event-ID: ...'");
      }
      try {
        builder.header(name, value);
      } catch (IllegalArgumentException e) {
        throw usage("--header '" + header + "' cannot be sent: " + e.getMessage());
      }
    }
    if (lastEventId != null) {
      try {
        builder.lastEventId(lastEventId);
      } catch (IllegalArgumentException e) {
        throw usage("--last-event-id: " + e.getMessage());
      }
    }
    return builder;
  }

  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /**
   * Prints events and decides the exit status. Callbacks of one source never overlap, so the
   * counter needs no lock.
   */
  private final class Printer implements EventSourceListener {
    private final PrintWriter out;
    private final PrintWriter err;
    private final CompletableFuture<Integer> exit;
    private long printed;

    Printer(PrintWriter out, PrintWriter err, CompletableFuture<Integer> exit) {
      this.out = out;
      this.err = err;
      this.exit = exit;
    }

    @Override
    public void onEvent(Event event) {
      if (exit.isDone()) {
        return;
      }
      out.println(EventJson.line(event));
      // Flushed per line: a pipe reader sees each event as it arrives, not when a buffer fills.
      out.flush();
      if (out.checkError()) {
        err.println("herald listen: stdout is closed; stopping");
        err.flush();
        exit.complete(REFUSED);
        return;
      }
      printed++;
      if (maxEvents != null && printed >= maxEvents) {
        exit.complete(0);
      }
    }

    @Override
    public void onError(Throwable error, Optional<Duration> retryDelay) {
      if (exit.isDone()) {
        return;
      }
      if (retryDelay.isPresent()) {
        err.println(
            "herald listen: "
                + describe(error)
                + "; reconnecting in "
                + retryDelay.get().toMillis()
                + " ms");
        err.flush();
      } else {
        err.println("herald listen: " + describe(error));
        err.flush();
        exit.complete(REFUSED);
      }
    }

    @Override
    public void onClosed() {
      if (!exit.isDone()) {
        // Neither --max-events nor an error closed the source: the server said 204, so stop.
        err.println("herald listen: " + url + " answered 204 No Content; done");
        err.flush();
        exit.complete(0);
      }
    }

    private String describe(Throwable error) {
      if (error instanceof SseHttpException) {
        return error.getMessage();
      }
      if (error instanceof java.io.EOFException) {
        return "the stream ended";
      }
      return error.toString();
    }
  }
}
