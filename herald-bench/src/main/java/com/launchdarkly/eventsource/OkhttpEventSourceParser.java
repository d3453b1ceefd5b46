package com.launchdarkly.eventsource;

import com.launchdarkly.logging.LDLogger;
import java.io.InputStream;
import java.net.URI;
import java.util.function.Consumer;

/**
 * Runs okhttp-eventsource's own parser ({@code EventParser}, package-private, which its {@code
 * EventSource} reads every stream through) on an {@link InputStream}, without connection, thread or
 * reconnection machinery: the fairest comparison of parser against parser. This class lives in the
 * library's package only to reach that constructor.
 */
public final class OkhttpEventSourceParser {
  private static final URI ORIGIN = URI.create("http://127.0.0.1/events");

  private OkhttpEventSourceParser() {}

  /**
   * Parses the whole stream, handing each message to {@code messages}.
   *
   * @param readBufferSize the parser's buffer, as {@code EventSource.Builder.readBufferSize} sets
   * @return the number of messages
   */
  public static int parseAll(InputStream in, int readBufferSize, Consumer<MessageEvent> messages)
      throws StreamException {
    EventParser parser = new EventParser(in, ORIGIN, readBufferSize, false, null, LDLogger.none());
    int count = 0;
    while (true) {
      StreamEvent event;
      try {
        event = parser.nextEvent();
      } catch (StreamClosedByServerException endOfStream) {
        return count;
      }
      if (event instanceof MessageEvent) {
        messages.accept((MessageEvent) event);
        count++;
      }
    }
  }
}
