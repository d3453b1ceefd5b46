package dev.herald.spring.boot.internal;

import dev.herald.core.Event;
import dev.herald.core.SseParser;
import java.util.ArrayList;
import java.util.List;
import org.springframework.http.codec.ServerSentEvent;

/**
 * Turns the broker's wire frames back into {@link ServerSentEvent}s for WebFlux, which encodes them
 * itself. The broker hands every stream of a topic the same frame array, one stream after the other
 * on its announcing thread, so the last frame decoded is remembered by identity and each event is
 * parsed once, not once per stream. The decoded events are immutable and shared.
 */
public final class FrameDecoder {
  private record Decoded(byte[] frame, List<ServerSentEvent<String>> events) {}

  private volatile Decoded last;

  /**
   * The events and comments of one frame, in order: an event keeps its id (absent for {@code
   * reset}), its type (absent for {@code message}) and its data; a heartbeat is a comment.
   */
  public List<ServerSentEvent<String>> decode(byte[] frame) {
    Decoded cached = last;
    if (cached != null && cached.frame == frame) {
      return cached.events;
    }
    List<ServerSentEvent<String>> events = new ArrayList<>(1);
    SseParser parser =
        SseParser.builder()
            .maxLineBytes(Integer.MAX_VALUE)
            .maxEventBytes(Integer.MAX_VALUE)
            .build(
                new SseParser.Handler() {
                  @Override
                  public void onEvent(Event event) {
                    events.add(
                        ServerSentEvent.<String>builder()
                            .id(event.id().orElse(null))
                            .event(event.type().equals(Event.DEFAULT_TYPE) ? null : event.type())
                            .data(event.data())
                            .build());
                  }

                  @Override
                  public void onComment(String comment) {
                    events.add(ServerSentEvent.<String>builder().comment(comment).build());
                  }
                });
    parser.feed(frame);
    List<ServerSentEvent<String>> decoded = List.copyOf(events);
    last = new Decoded(frame, decoded);
    return decoded;
  }
}
