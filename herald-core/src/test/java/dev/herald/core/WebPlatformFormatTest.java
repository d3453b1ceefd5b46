package dev.herald.core;

import static dev.herald.core.Recorder.cm;
import static dev.herald.core.Recorder.ev;
import static dev.herald.core.Recorder.rt;
import static dev.herald.core.StreamCase.stream;

import dev.herald.core.ParserHarness.LineEnding;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The stream-format cases of the web-platform-tests ({@code eventsource/format-*} and {@code
 * event-data}), rewritten as byte streams with the results browsers must show. Each stream is the
 * body the WPT server script sends: its {@code message} parameter, then {@code "\n\n"} unless
 * {@code newline=none}, then {@code "\n"}.
 *
 * <p>Left out, because they test the client rather than the stream format: {@code
 * format-mime-bogus}, {@code format-mime-trailing-semicolon} and {@code format-mime-valid-bogus}
 * (the Content-Type check), and the timing half of {@code format-field-retry*} (here: the reported
 * reconnection time).
 */
class WebPlatformFormatTest {
  private static final String X2048 = "x".repeat(2048);

  static Stream<Arguments> cases() {
    return StreamCase.withLineEndings(
        Stream.of(
            stream("format-bom", "\uFEFFdata:1\n\n\uFEFFdata:2\n\ndata:3\n\n\n")
                .expect(ev("1"), ev("3")),
            stream("format-bom-2", "\uFEFF\uFEFFdata:1\n\ndata:2\n\ndata:3\n\n\n")
                .expect(ev("2"), ev("3")),
            stream(
                    "format-comments",
                    "data:1\r:\0\n:\r\ndata:2\n:"
                        + X2048
                        + "\rdata:3\n:data:fail\r:"
                        + X2048
                        + "\ndata:4\n\n")
                .expect(cm("\0"), cm(""), cm(X2048), cm("data:fail"), cm(X2048), ev("1\n2\n3\n4")),
            stream(
                    "format-data-before-final-empty-line",
                    "retry:1000\ndata:test1\n\nid:test\ndata:test2\n")
                .expect(rt(1000), ev("test1"))
                .lastEventId(""),
            stream("format-field-data", "data:\n\ndata\ndata\n\ndata:test\n\n\n")
                .expect(ev(""), ev("\n"), ev("test")),
            stream("format-field-event", "event:test\ndata:x\n\ndata:x\n\n\n")
                .expect(ev("test", "x", ""), ev("x")),
            stream("format-field-event-empty", "event: \ndata:data\n\n\n").expect(ev("data")),
            stream("format-field-id (first connection)", "id: …\nretry: 200\ndata: hello\n\n")
                .expect(rt(200), ev("message", "hello", "…"))
                .lastEventId("…"),
            stream("format-field-id (after reconnecting with Last-Event-ID)", "data: …\n\n")
                .startingFrom("…")
                .expect(ev("message", "…", "…"))
                .lastEventId("…"),
            stream("format-field-id-3 persists", "id: 1\ndata: 1\n\ndata:2\n\n")
                .expect(ev("message", "1", "1"), ev("message", "2", "1"))
                .lastEventId("1"),
            stream(
                    "format-field-id-3 changes and persists",
                    "id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n")
                .expect(ev("message", "1", "1"), ev("message", "2", "2"), ev("message", "3", "2"))
                .lastEventId("2"),
            stream("format-field-id-3 resets", "id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n")
                .expect(ev("message", "1", "1"), ev("message", "2", ""), ev("message", "3", ""))
                .lastEventId(""),
            stream("format-field-id-null", "id: \0\0\nretry: 200\ndata: hello\n\n")
                .expect(rt(200), ev("hello"))
                .lastEventId(""),
            stream(
                    "format-field-parsing",
                    "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
                        + "data:3\rdata:\r\n data:32\ndata:4\n\n")
                .expect(ev("\0\n 2\n1\n3\n\n4")),
            stream("format-field-retry", "retry:03000\ndata:x\n\n\n").expect(rt(3000), ev("x")),
            stream("format-field-retry-bogus", "retry:3000\nretry:1000x\ndata:x\n\n\n")
                .expect(rt(3000), ev("x")),
            stream("format-field-retry-empty", "retry\ndata:test\n\n\n").expect(ev("test")),
            stream(
                    "format-field-unknown",
                    "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\n"
                        + "data:test\n\n\n")
                .expect(cm("thisisacommentyay"), ev("test\n\ntest")),
            stream("format-leading-space", "data:\ttest\rdata: \ndata:test\n\n\n")
                .expect(ev("\ttest\n\ntest")),
            stream("format-newlines", "data:test\r\ndata\ndata:test\r\n\r\n")
                .expect(ev("test\n\ntest")),
            stream("format-null-character", "data:\0\n\n\n\n").expect(ev("\0")),
            stream(
                    "format-utf-8",
                    ParserHarness.raw(
                        'd', 'a', 't', 'a', ':', 'o', 'k', 0xE2, 0x80, 0xA6, '\n', '\n', '\n'))
                .expect(ev("ok…")),
            stream(
                    "event-data",
                    "data:msg\ndata: msg\n\n:\nfalsefield:msg\n\nfalsefield:msg\nData:data\n\n"
                        + "data\n\ndata:end\n\n")
                .expect(ev("msg\nmsg"), cm(""), ev(""), ev("end"))));
  }

  @ParameterizedTest(name = "{0} [{1}]")
  @MethodSource("cases")
  void parsesLikeBrowsersDo(StreamCase streamCase, LineEnding ending) {
    streamCase.assertParses(ending);
  }
}
