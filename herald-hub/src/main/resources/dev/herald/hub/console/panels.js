// The publish form, presence look-ups and the hub's live numbers (GET /stats).

import { HubError, call } from './api.js';

const STATS_EVERY_MS = 2000;

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Topics typed one per line (blank lines dropped, surrounding spaces kept: they are part of a topic). */
export function topicLines(text) {
  return text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
}

function showResult(box, ok, lines) {
  box.hidden = false;
  box.dataset.ok = String(ok);
  box.replaceChildren(...lines.map((line) => element('div', null, line)));
}

/** The publish form: POST /events in the topic form or the member form. */
export function publishPanel() {
  const form = $('publish-form');
  const result = $('pub-result');
  const send = $('pub-send');
  const target = () => form.querySelector('input[name="pub-target"]:checked').value;

  const showTarget = () => {
    const member = target() === 'member';
    $('pub-topics-label').hidden = member;
    $('pub-member-label').hidden = !member;
    $('pub-type-hint').textContent = member ? 'required' : 'default message';
  };
  for (const radio of form.querySelectorAll('input[name="pub-target"]')) radio.addEventListener('change', showTarget);
  showTarget();

  $('pub-key-new').addEventListener('click', () => {
    $('pub-key').value = crypto.randomUUID();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let value;
    const raw = $('pub-data').value;
    if ($('pub-format').value === 'json') {
      try {
        value = JSON.parse(raw);
      } catch (error) {
        showResult(result, false, [`not sent: the data is not valid JSON (${error.message}); choose "text" to send it as a string`]);
        return;
      }
    } else {
      value = raw;
    }
    const type = $('pub-type').value;
    const extraHeaders = { 'Idempotency-Key': $('pub-key').value.trim() };
    let json;
    if (target() === 'member') {
      extraHeaders['Member-ID'] = $('pub-member').value;
      // No type at all rather than an empty one: the hub then says the type is missing.
      json = { event: type === '' ? { body: value } : { type, body: value } };
    } else {
      const topics = topicLines($('pub-topics').value);
      json = topics.length === 1 ? { topic: topics[0] } : { topics };
      if (type !== '') json.type = type;
      json.data = value;
    }
    send.disabled = true;
    try {
      const answer = await call('events', { method: 'POST', extraHeaders, json });
      const replayed = answer.headers.get('Idempotent-Replayed') === 'true';
      showResult(result, true, [
        `${answer.status} published: id ${answer.body.id}, reached ${answer.body.reached} stream${answer.body.reached === 1 ? '' : 's'}`,
        ...(replayed ? ['Idempotent-Replayed: the first publish with this key answered again; nothing new was published'] : []),
      ]);
    } catch (error) {
      showResult(result, false, [error instanceof HubError ? error.describe() : String(error)]);
    } finally {
      send.disabled = false;
    }
  });
}

/** GET /presence?topic= or ?member=. */
export function presencePanel() {
  const form = $('presence-form');
  const result = $('presence-result');
  $('presence-kind').addEventListener('change', () => {
    $('presence-name').placeholder = $('presence-kind').value === 'member' ? 'alice' : 'news';
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = $('presence-kind').value;
    const name = $('presence-name').value;
    try {
      const { body } = await call(`presence?${kind}=${encodeURIComponent(name)}`);
      result.hidden = false;
      result.dataset.ok = 'true';
      const head = element('div', 'presence-head');
      head.append(
        element('span', 'presence-topic', body.topic),
        element('span', null, ` · ${body.subscriptions} subscription${body.subscriptions === 1 ? '' : 's'} · ${body.devices.length} device${body.devices.length === 1 ? '' : 's'}`),
      );
      const devices = element('ul', 'devices');
      for (const device of body.devices) {
        const li = element('li');
        li.append(element('span', 'device-id', device.deviceId), element('span', 'muted', ` since ${device.since}`));
        devices.append(li);
      }
      result.replaceChildren(head, devices);
    } catch (error) {
      showResult(result, false, [error instanceof HubError ? error.describe() : String(error)]);
    }
  });
}

function uptime(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

const number = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/**
 * Polls GET /stats while the page is visible; {@code onAnswer(ok, error)} tells the caller whether
 * the hub answered (and the 401 when it wants a token).
 */
export function statsPanel(onAnswer) {
  let timer = null;
  let lastOk = 0;
  let refused = false; // 401: ask again only once there is a new token (refresh), not every 2 s
  const poll = async () => {
    clearTimeout(timer);
    if (document.hidden) {
      timer = setTimeout(poll, STATS_EVERY_MS);
      return;
    }
    try {
      const { body } = await call('stats');
      lastOk = Date.now();
      $('st-connections').textContent = number.format(body.connections);
      $('st-streams').textContent = number.format(body.streams);
      $('st-publishes').textContent = number.format(body.publishesPerSecond);
      $('st-deliveries').textContent = number.format(body.deliveriesPerSecond);
      const store = $('st-store');
      const kind = String(body.store.log).replace(/EventLog$/, '').toLowerCase() || 'store';
      store.textContent = `${kind}: ${body.shuttingDown ? 'shutting down' : body.store.available ? 'up' : 'DOWN'}`;
      store.title = `${body.store.log}, ${body.store.available ? 'reachable' : 'not reachable'}`;
      store.dataset.ok = String(body.store.available && !body.shuttingDown);
      $('st-uptime').textContent = uptime(body.uptimeSeconds);
      const rows = Object.entries(body.refusals).map(([reason, count]) => {
        const tr = element('tr');
        tr.append(element('td', 'reason', reason), element('td', 'count', number.format(count)));
        return tr;
      });
      if (rows.length === 0) {
        const tr = element('tr');
        tr.append(element('td', 'muted', 'none'));
        rows.push(tr);
      }
      $('st-refusals').replaceChildren(...rows);
      $('stats-error').hidden = true;
      $('stats-age').textContent = `rates over ${number.format(body.rateWindowSeconds)} s`;
      onAnswer(true, null);
    } catch (error) {
      const stats = $('stats-error');
      stats.hidden = false;
      const age = lastOk ? ` (numbers from ${Math.round((Date.now() - lastOk) / 1000)} s ago)` : '';
      stats.textContent = (error instanceof HubError ? error.describe() : String(error)) + age;
      onAnswer(false, error);
      refused = error instanceof HubError && error.status === 401;
      if (refused) return;
    }
    timer = setTimeout(poll, STATS_EVERY_MS);
  };
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !refused) poll();
  });
  poll();
  return {
    refresh: () => {
      refused = false;
      poll();
    },
  };
}
