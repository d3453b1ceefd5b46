package dev.herald.bench.load;

import java.nio.charset.StandardCharsets;

/** The three servers the load generator measures, and how each one subscribes and publishes. */
enum Target {
  /**
   * The Herald hub: {@code GET /events?topic=}, {@code POST /events} with a topic-form JSON body.
   */
  HERALD {
    @Override
    String topic(String kind, int index) {
      return kind.equals("member") ? "members/" + index : kind;
    }

    @Override
    byte[] subscribeRequest(String topic) {
      return ascii(
          "GET /events?topic="
              + topic
              + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    }

    @Override
    byte[] publishRequest(String topic, String data) {
      byte[] body = ascii("{\"topic\":\"" + topic + "\",\"data\":" + data + "}");
      return request("POST /events", "application/json", body);
    }
  },
  /** Nginx with the Nchan module as configured by {@code scripts/nchan.sh}. */
  NCHAN {
    @Override
    String topic(String kind, int index) {
      return kind.equals("member") ? "m" + index : kind;
    }

    @Override
    byte[] subscribeRequest(String topic) {
      return ascii(
          "GET /sub?id="
              + topic
              + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    }

    @Override
    byte[] publishRequest(String topic, String data) {
      return request("POST /pub?id=" + topic, "application/json", ascii(data));
    }
  },
  /** {@link TrivialFanOutServer}. */
  TRIVIAL {
    @Override
    String topic(String kind, int index) {
      return kind.equals("member") ? "m" + index : kind;
    }

    @Override
    byte[] subscribeRequest(String topic) {
      return ascii("GET /sub?topic=" + topic + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    }

    @Override
    byte[] publishRequest(String topic, String data) {
      return request("POST /pub?topic=" + topic, "application/json", ascii(data));
    }
  };

  /** The topic or channel name for a scenario's topic kind ("member" is one per subscriber). */
  abstract String topic(String kind, int index);

  abstract byte[] subscribeRequest(String topic);

  abstract byte[] publishRequest(String topic, String data);

  /** The path (with query) of a stream request, for clients that speak HTTP through a codec. */
  String subscribePath(String topic) {
    return switch (this) {
      case HERALD -> "/events?topic=" + topic;
      case NCHAN -> "/sub?id=" + topic;
      case TRIVIAL -> "/sub?topic=" + topic;
    };
  }

  /** The path (with query) of a publish request. */
  String publishPath(String topic) {
    return switch (this) {
      case HERALD -> "/events";
      case NCHAN -> "/pub?id=" + topic;
      case TRIVIAL -> "/pub?topic=" + topic;
    };
  }

  /** The body of a publish request whose event data is the JSON text {@code data}. */
  byte[] publishBody(String topic, String data) {
    return this == HERALD
        ? ascii("{\"topic\":\"" + topic + "\",\"data\":" + data + "}")
        : ascii(data);
  }

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] request(String requestLine, String contentType, byte[] body) {
    byte[] head =
        ascii(
            requestLine
                + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                + contentType
                + "\r\nContent-Length: "
                + body.length
                + "\r\n\r\n");
    byte[] all = new byte[head.length + body.length];
    System.arraycopy(head, 0, all, 0, head.length);
    System.arraycopy(body, 0, all, head.length, body.length);
    return all;
  }
}
