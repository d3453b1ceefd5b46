package dev.herald.cli;

import dev.herald.client.ErrorPolicy;
import dev.herald.client.EventSource;
import dev.herald.client.EventSourceListener;
import dev.herald.client.SseHttpException;
import dev.herald.core.Event;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
 * stdout; stderr gets one line each time a stream opens and each failure. The stream is a URL, a
 * path under the hub's base URL ({@code --url} or {@code HERALD_URL}), or {@code --topic}s. It
 * reconnects as an {@code EventSource} does (with {@code Last-Event-ID}, backing off on 5xx); it
 * ends with 0 on a 204 No Content or after {@code --max-events}, and with 1 and a message on stderr
 * when the server refuses for good (any 4xx unless {@code --retry-throttled}, a response that is
 * not an event stream).
 */
@Command(
    name = "listen",
    mixinStandardHelpOptions = true,
    description = {
      "Subscribe to an event stream and print each event as one JSON line:",
      "{\"type\": ..., \"data\": ..., \"id\": ...} (id: the last event ID at dispatch, \"\" if none).",
      "The stream: a URL, a path such as '/events?topic=news' under --url, or --topic.",
      "Reconnects like a browser's EventSource. Exit 0 on 204 No Content or after --max-events;",
      "1 when the server refuses (4xx, not text/event-stream)."
    })
final class ListenCommand implements Callable<Integer> {
  static final int REFUSED = 1;

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--url",
      defaultValue = HubUrl.DEFAULT,
      paramLabel = "BASE",
      description =
          "The hub's base URL, for a path or --topic; the env variable HERALD_URL sets it for"
              + " every command.")
  String base;

  @Option(
      names = "--topic",
      paramLabel = "TOPIC",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description = "Subscribe to this topic at <url>/events (repeatable), instead of a URL.")
  List<String> topics = new ArrayList<>();

  @Option(
      names = "--header",
      paramLabel = "'Name: value'",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description = "A request header, sent on every connection (repeatable).")
  List<String> headers = new ArrayList<>();

  @Option(
      names = "--last-event-id",
      paramLabel = "ID",
      description =
          "Start after this event (earliest: all retained history): sent as Last-Event-ID on the"
              + " first connection.")
  String lastEventId;

  @Option(
      names = "--max-events",
      paramLabel = "N",
      description = "Exit 0 after printing N events (default: listen until stopped).")
  Long maxEvents;

  @Option(
      names = "--retry-throttled",
      description =
          "Reconnect after 408 Request Timeout and 429 Too Many Requests, after the Retry-After"
              + " the server asks for, instead of exiting 1 as on any other 4xx.")
  boolean retryThrottled;

  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "URL",
      description =
          "The event stream: a URL, or a path with its query resolved against --url, e.g."
              + " '/events?topic=news'.")
  String url;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (maxEvents != null && maxEvents < 1) {
      throw usage("--max-events must be at least 1, not " + maxEvents);
    }
    URI target = target();
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Printer printer = new Printer(target, out, err, exit);
    EventSource source = configure(target).listener(printer).build();
    printer.source = source;
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

  /** The stream's URL: the URL given, a path under --url, or --url's /events with --topic. */
  private URI target() {
    if (url == null && topics.isEmpty()) {
      throw usage("give the stream: a URL, a path such as '/events?topic=news', or --topic");
    }
    if (url != null && !topics.isEmpty()) {
      throw usage("give either a URL or --topic, not both");
    }
    if (url == null) {
      StringBuilder query = new StringBuilder("/events");
      for (String topic : topics) {
        query.append(query.length() == "/events".length() ? '?' : '&').append("topic=");
        // Percent-encoding, not form encoding: a space is %20, a slash %2F.
        query.append(URLEncoder.encode(topic, StandardCharsets.UTF_8).replace("+", "%20"));
      }
      return HubUrl.resolve(spec.commandLine(), base, query.toString());
    }
    URI given;
    try {
      given = new URI(url);
    } catch (URISyntaxException e) {
      throw usage("URL '" + url + "' is not an http or https URL nor a path: " + e.getMessage());
    }
    if (given.getScheme() == null) {
      return HubUrl.resolve(spec.commandLine(), base, url);
    }
    String scheme = given.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || given.getHost() == null) {
      throw usage("URL '" + url + "' is not an http or https URL nor a path");
    }
    return given;
  }

  /** The source's configuration from the command line, or a usage error naming the bad flag. */
  private EventSource.Builder configure(URI target) {
    EventSource.Builder builder = EventSource.builder(target);
    if (retryThrottled) {
      builder.errorPolicy(ErrorPolicy.retryingThrottled());
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

  /** The URL as printed: a query token is a credential, kept out of terminals and logs. */
  static String shown(URI uri) {
    return uri.toString().replaceAll("(?i)([?&]access_token=)[^&#]*", "$1***");
  }

  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /**
   * Prints events and decides the exit status. Callbacks of one source never overlap, so the
   * counter needs no lock.
   */
  private final class Printer implements EventSourceListener {
    private final URI target;
    private final PrintWriter out;
    private final PrintWriter err;
    private final CompletableFuture<Integer> exit;
    private long printed;

    /** Set before the source starts, so every callback sees it. */
    EventSource source;

    Printer(URI target, PrintWriter out, PrintWriter err, CompletableFuture<Integer> exit) {
      this.target = target;
      this.out = out;
      this.err = err;
      this.exit = exit;
    }

    @Override
    public void onOpen(HttpResponse.ResponseInfo response) {
      if (exit.isDone()) {
        return;
      }
      // stderr, so stdout stays JSON lines; tells "connected and waiting" from "hung".
      String position = source.lastEventId();
      err.println(
          "herald listen: connected to "
              + shown(target)
              + (position.isEmpty()
                  ? ""
                  : position.equals("earliest")
                      ? " (from the earliest retained event)"
                      : " (resuming after id " + position + ")"));
      err.flush();
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
        err.println("herald listen: " + shown(target) + " answered 204 No Content; done");
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
