package dev.herald.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.core.Event;
import java.io.UncheckedIOException;

/**
 * An event as the JSON object {@code herald listen} prints and the contract service reports: {@code
 * {"type": ..., "data": ..., "id": ...}}, in that order.
 */
final class EventJson {
  /**
   * Escapes everything outside ASCII as a JSON backslash-u escape of four hex digits: the text is
   * then the same whatever charset the terminal or pipe decodes stdout with, and a JSON reader gets
   * the exact string back.
   */
  static final ObjectMapper MAPPER =
      JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();

  private EventJson() {}

  /**
   * The event as a JSON object: its type ({@code message} when the stream named none), its data as
   * received, and the last event ID at dispatch ({@code ""} when there is none).
   */
  static ObjectNode of(Event event) {
    ObjectNode node = MAPPER.createObjectNode();
    node.put("type", event.type());
    node.put("data", event.data());
    node.put("id", event.id().orElse(""));
    return node;
  }

  /** The event as one line of compact JSON, without the line end. */
  static String line(Event event) {
    return write(of(event));
  }

  /** Compact JSON text of {@code node}. */
  static String write(ObjectNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      // A tree of strings always serialises; this would be a Jackson bug.
      throw new UncheckedIOException(e);
    }
  }
}
