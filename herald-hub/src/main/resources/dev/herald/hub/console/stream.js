// The live tail's connection: GET /events read with fetch(), parsed as the WHATWG event stream
// format, reconnecting with Last-Event-ID like an EventSource.
//
// Why not EventSource: it only dispatches the event types a page names in advance (a console must
// show every type), it cannot send headers (Authorization, Member-ID, Device-Id, Last-Event-ID
// on the first request), and it hides why a connection failed (the hub's 401 or 503 reason).

import { HubError, headers, refusal } from './api.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;

/**
 * The event stream interpretation of the HTML standard: feed it decoded text in chunks that may
 * split anywhere; it calls onEvent({id, hasId, type, data}) for each dispatched event and
 * onRetry(ms) for each valid retry field. A BOM is stripped by the TextDecoder in front of it.
 */
export class SseParser {
  constructor(onEvent, onRetry = () => {}, onComment = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.onComment = onComment;
    this.buffer = '';
    this.skipLineFeed = false; // the last chunk ended with CR: a leading LF belongs to it
    this.lastEventId = '';
    this.resetBlock();
  }

  resetBlock() {
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.hasId = false;
  }

  feed(text) {
    let chunk = text;
    if (this.skipLineFeed && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLineFeed = false;
    this.buffer += chunk;
    let start = 0;
    const buffer = this.buffer;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buffer.slice(start, i));
      if (c === 13) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLineFeed = true;
        }
      }
      start = i + 1;
    }
    this.buffer = buffer.slice(start);
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) {
      this.onComment(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data += value + '\n';
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.lastEventId = value;
          this.hasId = true;
        }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.onRetry(Number.parseInt(value, 10));
        break;
      default:
        break; // ignored, as the standard says
    }
  }

  dispatch() {
    if (!this.hasData) {
      this.resetBlock();
      return;
    }
    const event = {
      id: this.hasId ? this.lastEventId : '',
      hasId: this.hasId,
      lastEventId: this.lastEventId,
      type: this.type || 'message',
      data: this.data.endsWith('\n') ? this.data.slice(0, -1) : this.data,
    };
    this.resetBlock();
    this.onEvent(event);
  }
}

/**
 * One subscription that reconnects until stopped. States passed to onState(state, detail):
 * 'connecting', 'open', 'reconnecting' (detail.inMs), 'closed' (detail.error: it will not retry by
 * itself), 'stopped'. detail.resumeFrom is the Last-Event-ID sent ('' for live).
 */
export class EventStream {
  /**
   * @param {object} options
   * @param {string[]} options.topics topics (?topic=)
   * @param {string} options.member a member id (its topic members/<id>), or ''
   * @param {string} options.position '' (live), 'earliest' or an event id, sent as Last-Event-ID
   * @param {string} options.deviceId a device id (Device-Id header), or ''
   */
  constructor({ topics, member, position, deviceId }, onEvent, onState) {
    this.topics = topics;
    this.member = member;
    this.position = position;
    this.deviceId = deviceId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastEventId = ''; // the last id the stream carried
    this.retryMs = FIRST_RETRY_MS;
    this.failures = 0;
    this.stopped = false;
    this.timer = null;
    this.controller = null;
    this.lastActivity = 0;
  }

  /** The member's topic goes in the query too: the same as Member-ID, and any text fits there. */
  url() {
    const topics = this.member ? [...this.topics, 'members/' + this.member] : this.topics;
    const query = topics.map((t) => 'topic=' + encodeURIComponent(t)).join('&');
    return 'events' + (query ? '?' + query : '');
  }

  /** What Last-Event-ID the next connection sends: the last id seen, else the chosen position. */
  resumeFrom() {
    return this.lastEventId || this.position;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.onState('stopped', { resumeFrom: this.resumeFrom() });
  }

  async connect() {
    if (this.stopped) return;
    const resumeFrom = this.resumeFrom();
    this.onState('connecting', { resumeFrom, attempt: this.failures + 1 });
    const controller = new AbortController();
    this.controller = controller;
    let init;
    try {
      init = {
        headers: headers({ Accept: 'text/event-stream', 'Last-Event-ID': resumeFrom, 'Device-Id': this.deviceId }),
        cache: 'no-store',
        credentials: 'omit',
        signal: controller.signal,
      };
    } catch (e) {
      // A header value a browser cannot send (characters beyond Latin-1).
      this.onState('closed', { resumeFrom, error: new HubError(0, 'invalid_header', e.message) });
      return;
    }
    let response;
    try {
      response = await fetch(this.url(), init);
    } catch (e) {
      if (!this.stopped) this.retry(new HubError(0, 'unreachable', `cannot reach the hub (${e.message})`));
      return;
    }
    if (!response.ok) {
      const error = await refusal(response);
      if (this.stopped) return;
      // Like an EventSource, give up on a refusal the same request would get again; but wait out
      // what is temporary (503 store_unavailable, shutting_down, too_many_connections, 408, 429).
      if (error.status >= 500 || error.status === 408 || error.status === 429) {
        this.retry(error);
      } else {
        this.onState('closed', { resumeFrom, error });
      }
      return;
    }
    const type = response.headers.get('Content-Type') || '';
    if (!type.startsWith('text/event-stream')) {
      controller.abort();
      this.onState('closed', {
        resumeFrom,
        error: new HubError(response.status, 'not_a_stream', `the answer is ${type || 'untyped'}, not text/event-stream`),
      });
      return;
    }
    this.failures = 0;
    this.lastActivity = Date.now();
    this.onState('open', { resumeFrom, since: new Date() });
    const parser = new SseParser(
      (event) => {
        if (event.hasId) this.lastEventId = event.id;
        this.onEvent(event);
      },
      (ms) => {
        this.retryMs = ms;
      },
    );
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.lastActivity = Date.now();
        parser.feed(value);
        if (this.stopped) return;
      }
      // A clean end (the hub shut down, the device's stream was replaced): resume at once-ish.
      if (!this.stopped) this.retry(null);
    } catch (e) {
      if (!this.stopped) this.retry(new HubError(0, 'disconnected', `the stream broke (${e.message})`));
    }
  }

  retry(error) {
    const backoff = Math.min(MAX_RETRY_MS, this.retryMs * 2 ** Math.min(this.failures, 4));
    const asked = error && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
    const inMs = Math.max(backoff, asked);
    this.failures++;
    this.onState('reconnecting', { resumeFrom: this.resumeFrom(), inMs, error, at: Date.now() + inMs });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), inMs);
  }
}
