package dev.herald.hub.internal.http;

/**
 * Marks a handler that stays in a connection's pipeline once the connection carries an event
 * stream, when every request handler is removed: the connection limiter, which counts the
 * connection until it closes, and the framing of an HTTP/1.0 stream ({@link Http10Streams}).
 */
public interface StaysOnStream {}
