/**
 * A server-sent events client on {@link java.net.http.HttpClient}.
 *
 * <ul>
 *   <li>{@link dev.herald.client.EventSource}: built with {@link
 *       dev.herald.client.EventSource#builder}, consumed with callbacks ({@code start()}), a
 *       blocking {@code Stream} ({@code events()}) or as a {@link
 *       java.util.concurrent.Flow.Publisher}; controlled with {@code restart()} and {@code
 *       close()}.
 *   <li>{@link dev.herald.client.EventSourceListener}: events, comments, opens, errors, the close.
 *   <li>{@link dev.herald.client.ErrorPolicy}: reconnect after a delay, or close.
 *   <li>{@link dev.herald.client.SseHttpException} and {@link
 *       dev.herald.client.SseContentTypeException}: responses that are not an event stream.
 * </ul>
 *
 * <p>Events are {@link dev.herald.core.Event}s from herald-core, parsed by its {@link
 * dev.herald.core.SseParser}.
 */
package dev.herald.client;
