// The tail's rows: newest first, at most `cap` of them, rendered in animation frames within a time
// budget so that a burst of thousands of events never blocks the page. Every value is put into the
// page as text (textContent), never as HTML.

const FRAME_BUDGET_MS = 8;
const MAX_ROWS_PER_FRAME = 100;
const MAX_DATA_CHARS = 8192;

/** Pretty-prints JSON data (objects and arrays), leaves anything else as the text it is. */
export function formatData(data) {
  const start = data.trimStart().charAt(0);
  if (start === '{' || start === '[') {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(data), null, 2) };
    } catch {
      // not JSON after all: text
    }
  }
  if (start !== '' && '"-0123456789tfn'.includes(start)) {
    try {
      JSON.parse(data);
      return { kind: 'json', text: data };
    } catch {
      // text
    }
  }
  return { kind: 'text', text: data };
}

function clock(date) {
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The rows of the live tail. */
export class Tail {
  constructor(list, empty, onChange) {
    this.list = list;
    this.empty = empty;
    this.onChange = onChange;
    this.cap = 500;
    this.filter = '';
    this.paused = false;
    this.pending = []; // events received, not rendered yet (at most cap)
    this.scheduled = false;
    this.received = 0; // events received since the last clear
    this.skipped = 0; // received but never rendered: more arrived at once (or while paused) than the cap
    this.kept = 0;
    this.shown = 0;
  }

  /** Takes a received event ({id, hasId, type, data, received: Date, outOfOrder}). */
  add(event) {
    this.received++;
    this.pending.push(event);
    if (this.pending.length > 2 * this.cap) this.trimPending();
    this.schedule();
  }

  trimPending() {
    const extra = this.pending.length - this.cap;
    if (extra > 0) {
      this.pending.splice(0, extra);
      this.skipped += extra;
    }
  }

  schedule() {
    if (this.scheduled || this.paused || this.pending.length === 0) {
      this.onChange();
      return;
    }
    this.scheduled = true;
    requestAnimationFrame(() => this.render());
  }

  render() {
    this.scheduled = false;
    if (this.paused) return;
    this.trimPending();
    const started = performance.now();
    const fragment = document.createDocumentFragment();
    let taken = 0;
    while (
      taken < this.pending.length &&
      taken < MAX_ROWS_PER_FRAME &&
      (taken % 25 !== 0 || performance.now() - started < FRAME_BUDGET_MS)
    ) {
      fragment.prepend(this.row(this.pending[taken]));
      taken++;
    }
    this.pending.splice(0, taken);
    this.list.prepend(fragment);
    this.kept += taken;
    while (this.kept > this.cap) {
      const last = this.list.lastElementChild;
      if (!last) break;
      if (!last.hidden) this.shown--;
      last.remove();
      this.kept--;
    }
    this.empty.hidden = this.kept > 0;
    this.list.hidden = this.kept === 0;
    this.onChange();
    if (this.pending.length > 0) this.schedule();
  }

  matches(type) {
    return this.filter === '' || type === 'reset' || type.toLowerCase().includes(this.filter);
  }

  row(event) {
    const li = element('li', 'row');
    li.dataset.type = event.type;
    li.dataset.id = event.id;
    const head = element('div', 'row-head');
    head.append(
      element('time', 'row-time', clock(event.received)),
      element('span', 'row-id', event.hasId ? event.id : '(no id)'),
      element('span', 'row-type', event.type),
    );
    li.append(head);
    if (event.type === 'reset') {
      li.classList.add('reset');
      li.append(this.resetNotice(event.data));
    }
    if (event.outOfOrder) {
      li.classList.add('out-of-order');
      head.append(element('span', 'flag', 'id not above the previous one'));
    }
    const data = formatData(event.data);
    head.append(element('span', 'row-kind', data.kind));
    let text = data.text;
    if (text.length > MAX_DATA_CHARS) {
      text = text.slice(0, MAX_DATA_CHARS) + `\n… ${data.text.length - MAX_DATA_CHARS} more characters not shown`;
    }
    li.append(element('pre', 'row-data', text));
    li.hidden = !this.matches(event.type);
    if (!li.hidden) this.shown++;
    return li;
  }

  resetNotice(data) {
    let reason = '';
    let after = '';
    try {
      const parsed = JSON.parse(data);
      reason = String(parsed.reason ?? '');
      after = String(parsed.lastEventId ?? '');
    } catch {
      // show the data as it is, below
    }
    const why =
      reason === 'unknown'
        ? 'the hub does not know that id'
        : reason === 'expired'
          ? 'retention dropped events after it'
          : 'the hub could not resume exactly';
    return element(
      'p',
      'reset-notice',
      `RESET (${reason || 'no reason'}): cannot resume after "${after}": ${why}. All retained history follows, then live events.`,
    );
  }

  setPaused(paused) {
    this.paused = paused;
    if (paused) {
      this.onChange();
    } else {
      this.schedule();
    }
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    let shown = 0;
    for (const li of this.list.children) {
      li.hidden = !this.matches(li.dataset.type);
      if (!li.hidden) shown++;
    }
    this.shown = shown;
    this.onChange();
  }

  setCap(cap) {
    this.cap = cap;
    while (this.kept > this.cap && this.list.lastElementChild) {
      if (!this.list.lastElementChild.hidden) this.shown--;
      this.list.lastElementChild.remove();
      this.kept--;
    }
    this.trimPending();
    this.onChange();
  }

  clear() {
    this.list.replaceChildren();
    this.pending = [];
    this.received = 0;
    this.skipped = 0;
    this.kept = 0;
    this.shown = 0;
    this.empty.hidden = false;
    this.list.hidden = true;
    this.onChange();
  }

  /** "received 10000 · showing 480 of 500 kept · 9000 skipped" */
  describe() {
    const parts = [`received ${this.received}`];
    parts.push(this.shown === this.kept ? `${this.kept} kept` : `showing ${this.shown} of ${this.kept} kept`);
    if (this.kept >= this.cap) parts.push(`cap ${this.cap}`);
    if (this.pending.length > 0) parts.push(`${this.pending.length} ${this.paused ? 'held while paused' : 'to render'}`);
    if (this.skipped > 0) parts.push(`${this.skipped} skipped in bursts`);
    return parts.join(' · ');
  }
}
