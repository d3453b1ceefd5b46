package dev.herald.spring.boot;

import dev.herald.server.Topics;
import java.util.Arrays;
import java.util.Collection;
import java.util.Set;

/**
 * What a Spring MVC controller returns to stream Herald topics to its client: the topics the
 * application chose, after its own authorization. The stream resumes from the request's {@code
 * Last-Event-ID} header (or {@code ?lastEventId=} for browsers, the header winning), starts with a
 * {@code reset} event when it cannot resume exactly, sends heartbeats and is closed once the client
 * reads too slowly (it reconnects and replays what it missed). A {@code HEAD} request gets the
 * headers a {@code GET} would get and subscribes to nothing.
 *
 * <pre>{@code
 * @GetMapping("/orders/{id}/events")
 * HeraldStream orderEvents(@PathVariable long id, Principal user) {
 *   orders.checkCanRead(user, id); // your authorization, before anything is streamed
 *   return HeraldStream.of("orders/" + id);
 * }
 * }</pre>
 *
 * <p>The topics are checked when the stream opens: an invalid one is answered 400 with a JSON error
 * ({@code topic_invalid}, {@code too_many_topics}), never streamed.
 *
 * @param topics the topics to stream (1 to {@value Topics#MAX_TOPICS}), in no particular order
 */
public record HeraldStream(Set<String> topics) {
  /** Copies the topics. */
  public HeraldStream {
    topics = Set.copyOf(topics);
  }

  /** A stream of the given topics; duplicates collapse. */
  public static HeraldStream of(String... topics) {
    return of(Arrays.asList(topics));
  }

  /** A stream of the given topics; duplicates collapse. */
  public static HeraldStream of(Collection<String> topics) {
    return new HeraldStream(Set.copyOf(topics));
  }
}
