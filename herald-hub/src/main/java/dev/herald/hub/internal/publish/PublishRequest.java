package dev.herald.hub.internal.publish;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.core.Event;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.TopicValidation;
import dev.herald.server.Publication;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads the body of {@code POST /events} into a {@link Publication}, in either form of
 * docs/http-api.md:
 *
 * <ul>
 *   <li>member form: {@code Member-ID} header and {@code {"event": {"type": T, "body": B}}} → topic
 *       {@code members/<id>}, type T, data {@code {"body": B, "timestamp": "<UTC millis Z>"}};
 *   <li>topic form: {@code "topic"} or {@code "topics"}, optional {@code "type"}, required {@code
 *       "data"} (a JSON string as is, any other value as its compact JSON text).
 * </ul>
 *
 * Every mistake is a {@link Refusal} with its own reason code. Text that UTF-8 cannot carry (a lone
 * surrogate, which a JSON escape can express) is refused where it would be published ({@code data},
 * {@code event.body}, a type, a topic) rather than sent on as {@code ?}.
 */
public final class PublishRequest {
  /** The longest event type, in characters. */
  public static final int MAX_TYPE_LENGTH = 128;

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  /**
   * Writes the canonical form of a body for idempotency fingerprints: properties sorted by name at
   * every depth, no insignificant whitespace, non-ASCII escaped (so even a lone surrogate is kept
   * exactly), numbers as the parser read them.
   */
  private static final ObjectMapper CANONICAL =
      JsonMapper.builder()
          .enable(JsonNodeFeature.WRITE_PROPERTIES_SORTED)
          .enable(JsonWriteFeature.ESCAPE_NON_ASCII)
          .build();

  private static final DateTimeFormatter TIMESTAMP =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSX").withZone(ZoneOffset.UTC);

  private PublishRequest() {}

  /**
   * What a request body holds: one event, or a batch (a JSON array, or NDJSON lines) to store
   * all-or-nothing.
   *
   * @param publications the events, in the order given
   * @param batch whether the body was a batch (the answer then lists {@code "ids"})
   * @param json the body as parsed: the object, or the array of a batch's elements (NDJSON too)
   */
  public record Parsed(List<Publication> publications, boolean batch, JsonNode json) {
    /** Copies the list. */
    public Parsed {
      publications = List.copyOf(publications);
    }

    /**
     * The body in canonical JSON, the one form an idempotency fingerprint is computed from: two
     * bodies that differ only in property order or whitespace have the same canonical form, two
     * that differ in any value do not.
     */
    public String canonicalJson() {
      try {
        return CANONICAL.writeValueAsString(json);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("a parsed JSON tree always serialises", e);
      }
    }
  }

  /**
   * Parses a publish request that may be a batch: a JSON object is one event, a JSON array a batch
   * of them; with {@code ndjson} every non-blank line is one event of a batch. A {@code Member-ID}
   * header applies to every element. A mistake in one element refuses the whole request, naming the
   * element's index.
   *
   * @param maxBatchEvents the most events one batch may hold (413 {@code batch_too_large} beyond)
   * @throws Refusal saying what is wrong
   */
  public static Parsed parseAny(
      Optional<String> memberId, ByteBuffer body, boolean ndjson, Clock clock, int maxBatchEvents) {
    String text = utf8(body);
    List<JsonNode> elements = new ArrayList<>();
    if (ndjson) {
      String[] lines = text.split("\r?\n", -1);
      for (String line : lines) {
        if (line.isBlank()) {
          continue;
        }
        if (elements.size() >= maxBatchEvents) {
          throw tooLarge(maxBatchEvents);
        }
        try {
          elements.add(tree(line));
        } catch (Refusal refusal) {
          throw refusal.at(elements.size());
        }
      }
    } else {
      JsonNode root = tree(text);
      if (!root.isArray()) {
        if (!root.isObject()) {
          throw Refusal.badRequest(
              "invalid_json", "the body must be a JSON object or array, got " + kind(root));
        }
        return new Parsed(List.of(element(memberId, root, clock)), false, root);
      }
      if (root.size() > maxBatchEvents) {
        throw tooLarge(maxBatchEvents);
      }
      root.forEach(elements::add);
    }
    if (elements.isEmpty()) {
      throw Refusal.badRequest(
          "batch_empty", "the batch holds no event; send at least one (or a single JSON object)");
    }
    List<Publication> publications = new ArrayList<>(elements.size());
    for (int i = 0; i < elements.size(); i++) {
      JsonNode element = elements.get(i);
      try {
        if (!element.isObject()) {
          throw Refusal.badRequest(
              "invalid_json", "each event must be a JSON object, got " + kind(element));
        }
        publications.add(element(memberId, element, clock));
      } catch (Refusal refusal) {
        throw refusal.at(i);
      }
    }
    return new Parsed(publications, true, JSON.createArrayNode().addAll(elements));
  }

  private static Refusal tooLarge(int maxBatchEvents) {
    return Refusal.of(
        io.netty.handler.codec.http.HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
        "batch_too_large",
        "a batch may hold at most " + maxBatchEvents + " events (--max-batch-events); split it");
  }

  private static Publication element(Optional<String> memberId, JsonNode root, Clock clock) {
    return memberId.isPresent() ? memberForm(memberId.get(), root, clock) : topicForm(root);
  }

  /**
   * Parses a publish request.
   *
   * @param memberId the {@code Member-ID} header, if present
   * @param body the request body
   * @param clock stamps member-form events
   * @throws Refusal saying what is wrong
   */
  public static Publication parse(Optional<String> memberId, ByteBuffer body, Clock clock) {
    JsonNode root = json(body);
    if (!root.isObject()) {
      throw Refusal.badRequest("invalid_json", "the body must be a JSON object, got " + kind(root));
    }
    return memberId.isPresent() ? memberForm(memberId.get(), root, clock) : topicForm(root);
  }

  private static Publication memberForm(String memberId, JsonNode root, Clock clock) {
    if (root.has("topic") || root.has("topics")) {
      throw Refusal.badRequest(
          "ambiguous_target",
          "send either a Member-ID header or a \"topic\"/\"topics\" field, not both");
    }
    String topic = TopicValidation.memberTopic(memberId);
    JsonNode event = root.get("event");
    if (event == null || !event.isObject()) {
      throw Refusal.badRequest(
          "event_missing",
          "a member-form body must be {\"event\": {\"type\": \"...\", \"body\": ...}}");
    }
    JsonNode type = event.get("type");
    if (type == null) {
      throw Refusal.badRequest("event_type_missing", "the event needs a \"type\" (a string)");
    }
    JsonNode payload = event.get("body");
    if (payload == null) {
      throw Refusal.badRequest("event_body_missing", "the event needs a \"body\" (any JSON value)");
    }
    ObjectNode data = JSON.createObjectNode();
    data.set("body", payload);
    data.put("timestamp", TIMESTAMP.format(clock.instant()));
    String text = data.toString();
    requireUtf8(text, "\"event.body\"");
    return new Publication(
        TopicValidation.check(List.of(topic)),
        Event.builder().type(type(type, "event.type")).data(text).build());
  }

  private static Publication topicForm(JsonNode root) {
    JsonNode topic = root.get("topic");
    JsonNode topics = root.get("topics");
    if (topic != null && topics != null) {
      throw Refusal.badRequest("ambiguous_target", "send either \"topic\" or \"topics\", not both");
    }
    List<String> names = new ArrayList<>();
    if (topic != null) {
      names.add(topicName(topic, "topic"));
    } else if (topics != null) {
      if (!topics.isArray()) {
        throw Refusal.badRequest(
            "topic_invalid", "\"topics\" must be an array of strings, got " + kind(topics));
      }
      for (JsonNode each : topics) {
        names.add(topicName(each, "topics[]"));
      }
    } else {
      throw Refusal.badRequest(
          "topic_missing",
          "name the target: a \"topic\" or \"topics\" field, or a Member-ID header with an"
              + " \"event\" body");
    }
    var checked = TopicValidation.check(names);
    JsonNode typeNode = root.get("type");
    String type = typeNode == null ? Event.DEFAULT_TYPE : type(typeNode, "type");
    JsonNode data = root.get("data");
    if (data == null) {
      throw Refusal.badRequest(
          "data_missing", "the body needs a \"data\" field (a string, or any JSON value)");
    }
    String text = data.isTextual() ? data.textValue() : data.toString();
    requireUtf8(text, "\"data\"");
    return new Publication(checked, Event.builder().type(type).data(text).build());
  }

  private static String topicName(JsonNode node, String field) {
    if (!node.isTextual()) {
      throw Refusal.badRequest(
          "topic_invalid", "\"" + field + "\" must be a string, got " + kind(node));
    }
    return node.textValue();
  }

  /** Checks an event type: 1-128 characters, no control characters. */
  static String type(JsonNode node, String field) {
    if (!node.isTextual()) {
      throw Refusal.badRequest(
          "type_invalid", "\"" + field + "\" must be a string, got " + kind(node));
    }
    String type = node.textValue();
    int length = type.codePointCount(0, type.length());
    if (length < 1 || length > MAX_TYPE_LENGTH) {
      throw Refusal.badRequest(
          "type_invalid",
          "\"" + field + "\" must be 1-" + MAX_TYPE_LENGTH + " characters, got " + length);
    }
    loneSurrogate(type)
        .ifPresent(
            c -> {
              throw Refusal.badRequest("type_invalid", cannotCarry("\"" + field + "\"", c));
            });
    for (int i = 0; i < type.length(); i++) {
      char c = type.charAt(i);
      if (c <= 0x1F || (c >= 0x7F && c <= 0x9F)) {
        throw Refusal.badRequest(
            "type_invalid",
            String.format(
                "\"%s\" must not contain control characters (U+%04X at index %d)",
                field, (int) c, i));
      }
    }
    return type;
  }

  /** Refuses event data with a lone surrogate: 400 {@code data_invalid}. */
  private static void requireUtf8(String data, String field) {
    loneSurrogate(data)
        .ifPresent(
            c -> {
              throw Refusal.badRequest("data_invalid", cannotCarry(field, c));
            });
  }

  private static String cannotCarry(String field, char surrogate) {
    return String.format(
        "%s contains a lone surrogate (U+%04X), which UTF-8 cannot carry", field, (int) surrogate);
  }

  /** The first surrogate of {@code text} that is not half of a pair, if any. */
  static Optional<Character> loneSurrogate(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!Character.isSurrogate(c)) {
        continue;
      }
      if (Character.isHighSurrogate(c)
          && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
        continue;
      }
      return Optional.of(c);
    }
    return Optional.empty();
  }

  private static JsonNode json(ByteBuffer body) {
    return tree(utf8(body));
  }

  private static String utf8(ByteBuffer body) {
    // The JDK's String decoder is several times faster than a CharsetDecoder (it was 3.5% of a
    // hub's CPU per publish) but replaces malformed input with U+FFFD instead of reporting it, so
    // a body whose text holds U+FFFD, malformed or sent as such, is decoded strictly as well.
    byte[] bytes = new byte[body.remaining()];
    body.duplicate().get(bytes);
    String text = new String(bytes, StandardCharsets.UTF_8);
    if (text.indexOf('\uFFFD') < 0) {
      return text;
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(body)
          .toString();
    } catch (CharacterCodingException e) {
      throw Refusal.badRequest("invalid_json", "the body is not valid UTF-8");
    }
  }

  private static JsonNode tree(String text) {
    if (text.isBlank()) {
      throw Refusal.badRequest("invalid_json", "the body is empty; send a JSON object");
    }
    try {
      return JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw Refusal.badRequest(
          "invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  private static String kind(JsonNode node) {
    return node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
  }
}
