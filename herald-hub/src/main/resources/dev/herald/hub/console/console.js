// The Herald console: wires the tail, the panels and the token together.

import { currentToken, onAuthNeeded, onTokenChange, setToken, tokenClaims } from './api.js';
import { presencePanel, publishPanel, statsPanel, topicLines } from './panels.js';
import { EventStream } from './stream.js';
import { Tail } from './tail.js';

const $ = (id) => document.getElementById(id);

// ---- the live tail ----

let stream = null;
let closedForToken = false; // the stream stopped on a 401: start it again once a token is given
let lastId = null; // BigInt of the newest id shown since the last reset: a lower one is flagged
let outOfOrder = 0;
let connection = { state: 'idle', detail: {} };

const tail = new Tail($('rows'), $('rows-empty'), () => scheduleStatus());

function scheduleStatus() {
  if (scheduleStatus.pending) return;
  scheduleStatus.pending = true;
  requestAnimationFrame(() => {
    scheduleStatus.pending = false;
    renderStatus();
  });
}

function describePosition(from) {
  if (from === '') return 'live: new events only';
  if (from === 'earliest') return 'from the earliest retained event';
  return `resumed after ${from}`;
}

function renderStatus() {
  const { state, detail } = connection;
  const badge = $('conn-state');
  $('conn').dataset.state = state;
  const parts = [];
  if (stream) parts.push(`topics: ${[...stream.topics, ...(stream.member ? ['members/' + stream.member] : [])].join(', ')}`);
  if (stream && stream.deviceId) parts.push(`device ${stream.deviceId}`);
  switch (state) {
    case 'idle':
      badge.textContent = 'not subscribed';
      break;
    case 'connecting':
      badge.textContent = detail.attempt > 1 ? 'reconnecting' : 'connecting';
      parts.push(`Last-Event-ID: ${detail.resumeFrom || '(none)'}`);
      break;
    case 'open':
      badge.textContent = 'open';
      parts.push(describePosition(detail.resumeFrom));
      parts.push(`Last-Event-ID: ${detail.resumeFrom || '(none)'}`);
      break;
    case 'reconnecting': {
      const seconds = Math.max(0, Math.ceil((detail.at - Date.now()) / 1000));
      badge.textContent = 'reconnecting';
      parts.push(`${detail.error ? detail.error.describe() + '; ' : 'the stream ended; '}retrying in ${seconds} s, will resume with Last-Event-ID: ${detail.resumeFrom || '(none)'}`);
      break;
    }
    case 'closed':
      badge.textContent = 'closed';
      parts.push(detail.error ? detail.error.describe() : 'closed');
      break;
    case 'stopped':
      badge.textContent = 'stopped';
      if (detail.resumeFrom) parts.push(`last id ${detail.resumeFrom}`);
      break;
    default:
      badge.textContent = state;
  }
  if (outOfOrder > 0) parts.push(`${outOfOrder} event(s) with an id not above the previous one`);
  $('conn-detail').textContent = parts.join(' · ');
  $('tail-counts').textContent = tail.describe();
}

// A reconnect countdown stays current.
setInterval(() => {
  if (connection.state === 'reconnecting') renderStatus();
}, 500);

function received(event) {
  let flagged = false;
  if (event.type === 'reset') {
    lastId = null; // history follows from its start: ids begin again lower
  } else if (event.hasId && /^[0-9]{1,19}$/.test(event.id)) {
    const id = BigInt(event.id);
    if (lastId !== null && id <= lastId) {
      flagged = true;
      outOfOrder++;
    }
    lastId = id;
  }
  tail.add({ ...event, received: new Date(), outOfOrder: flagged });
}

function onState(state, detail) {
  connection = { state, detail };
  if (state === 'closed' && detail.error && detail.error.status === 401) closedForToken = true;
  const active = state !== 'stopped' && state !== 'closed';
  $('sub-stop').disabled = !active;
  $('sub-start').textContent = active ? 'Resubscribe' : 'Subscribe';
  renderStatus();
}

function subscribe() {
  if (stream) stream.stop();
  closedForToken = false;
  lastId = null;
  const positionKind = $('sub-position').value;
  const position = positionKind === 'live' ? '' : positionKind === 'earliest' ? 'earliest' : $('sub-after').value.trim();
  stream = new EventStream(
    {
      topics: topicLines($('sub-topics').value),
      member: $('sub-member').value.trim(),
      position,
      deviceId: $('sub-device').value.trim(),
    },
    received,
    onState,
  );
  stream.start();
}

$('sub-position').addEventListener('change', () => {
  $('sub-after-label').hidden = $('sub-position').value !== 'after';
});
$('subscribe-form').addEventListener('submit', (e) => {
  e.preventDefault();
  subscribe();
});
$('sub-stop').addEventListener('click', () => {
  if (stream) stream.stop();
});

$('tail-pause').addEventListener('click', () => {
  const paused = !tail.paused;
  tail.setPaused(paused);
  const button = $('tail-pause');
  button.textContent = paused ? 'Resume' : 'Pause';
  button.setAttribute('aria-pressed', String(paused));
});
$('tail-clear').addEventListener('click', () => {
  tail.clear();
  outOfOrder = 0;
});
for (const type of ['input', 'change']) {
  $('tail-filter').addEventListener(type, () => tail.setFilter($('tail-filter').value));
}
$('tail-cap').addEventListener('change', () => tail.setCap(Number.parseInt($('tail-cap').value, 10)));
tail.setCap(Number.parseInt($('tail-cap').value, 10));

// ---- auth ----

const dialog = $('token-dialog');
let hubWantsToken = false;

function renderAuth() {
  const state = $('auth-state');
  const token = currentToken();
  if (token) {
    const claims = tokenClaims(token);
    const who = claims && typeof claims.sub === 'string' ? claims.sub : 'no sub';
    const expires = claims && typeof claims.exp === 'number' ? `, expires ${new Date(claims.exp * 1000).toLocaleString()}` : '';
    state.textContent = `token: ${who}${expires}`;
    state.dataset.state = hubWantsToken ? 'refused' : 'token';
  } else if (hubWantsToken) {
    state.textContent = 'this hub needs a token';
    state.dataset.state = 'refused';
  } else {
    state.textContent = 'no token needed (dev mode)';
    state.dataset.state = 'open';
  }
  const current = $('token-current');
  current.textContent = token ? `In use: ${state.textContent.slice('token: '.length)}` : 'No token in use.';
}

function openDialog(reason) {
  const text = $('token-reason');
  text.hidden = !reason;
  text.textContent = reason || '';
  renderAuth();
  if (!dialog.open) dialog.showModal();
  $('token-input').focus();
}

onAuthNeeded((error) => {
  // Asks once per refusal of a token (or of none), not at every poll that gets the same 401.
  const first = !hubWantsToken;
  hubWantsToken = true;
  renderAuth();
  if (first) openDialog(error.describe());
});
onTokenChange(() => {
  hubWantsToken = false;
  renderAuth();
  stats.refresh();
  if (stream && closedForToken) subscribe();
});

$('token-open').addEventListener('click', () => openDialog(''));
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = $('token-input').value;
  $('token-input').value = '';
  dialog.close();
  setToken(value);
});
$('token-forget').addEventListener('click', () => {
  $('token-input').value = '';
  dialog.close();
  setToken('');
});
$('token-cancel').addEventListener('click', () => dialog.close());

// ---- panels ----

publishPanel();
presencePanel();
const stats = statsPanel((ok, error) => {
  if (ok && !currentToken()) hubWantsToken = false;
  if (!ok && error && error.status === 401) hubWantsToken = true;
  renderAuth();
});
renderAuth();
renderStatus();
