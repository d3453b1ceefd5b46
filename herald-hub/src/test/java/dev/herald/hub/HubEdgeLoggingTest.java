package dev.herald.hub;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.herald.hub.RawConnection.Response;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the HTTP edge logs when clients misbehave in numbers: a storm of refusals is a few lines
 * with a count, and a client that goes away in the middle of a request is no error.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubEdgeLoggingTest {
  private static final Pattern COUNTED =
      Pattern.compile("refused (\\d+) more: 503 too_many_connections");

  @Test
  void aStormOfRefusedConnectionsLogsAFewLinesThatCountEveryRefusal() throws Exception {
    int storm = 200;
    List<String> lines;
    try (LogCapture logs = new LogCapture()) {
      try (HubFixture f = new HubFixture(Hub.builder().maxConnections(1));
          SseStream full = f.subscribe("?topic=full")) {
        for (int i = 0; i < storm; i++) {
          try (RawConnection connection = RawConnection.open(f.hub)) {
            connection.send("GET /presence?topic=full HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(connection.responsesUntilEnd())
                .extracting(Response::status)
                .containsExactly(503);
          }
        }
      }
      // The hub is closed: every count is logged.
      lines = logs.lines(Level.INFO);
    }
    List<String> refusals = lines.stream().filter(l -> l.contains("too_many_connections")).toList();
    int counted = 0;
    int full = 0;
    for (String line : refusals) {
      Matcher m = COUNTED.matcher(line);
      if (m.find()) {
        counted += Integer.parseInt(m.group(1));
      } else {
        assertThat(line)
            .startsWith("refused GET /presence from")
            .contains("503 too_many_connections");
        full++;
      }
    }
    // One full line and one count per 10 s interval: the storm takes one or two intervals.
    assertThat(refusals).as(String.join("\n", refusals)).hasSizeBetween(2, 4);
    assertThat(full + counted).isEqualTo(storm);
  }

  @Test
  void aClientClosingOrResettingInTheMiddleOfARequestIsNoError() throws Exception {
    String head =
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: 100\r\n\r\n{\"topic\":";
    String chunked =
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"top";
    try (LogCapture logs = new LogCapture();
        HubFixture f = HubFixture.memory()) {
      for (String partial : List.of(head, chunked, "POST /events HTTP/1.1\r\nHost:")) {
        for (boolean reset : new boolean[] {false, true}) {
          RawConnection connection = RawConnection.open(f.hub);
          connection.send(partial);
          RawConnection.awaitOpenConnections(f.hub, 1); // the hub has it
          if (reset) {
            connection.reset();
          }
          connection.close();
          RawConnection.awaitOpenConnections(f.hub, 0);
        }
      }
      assertThat(logs.lines(Level.WARN)).isEmpty();
      assertThat(logs.lines()).noneMatch(line -> line.contains("internal_error"));
      assertThat(f.get("/metrics").body()).doesNotContain("herald_refusals_total");
    }
  }
}
