// Calls to the hub's API, with the user's token.
//
// The token is kept in this tab's sessionStorage (gone when the tab closes) and sent as
// "Authorization: Bearer" on every call, the stream included: the console reads the stream with
// fetch(), so it never needs the cookie or the ?access_token= query parameter that an EventSource
// needs (see README, "The console"). URLs are relative, so the console also works behind a proxy
// that serves the hub under a path prefix.

const STORAGE_KEY = 'herald.console.token';

let token = readStoredToken();
const tokenListeners = new Set();
const authListeners = new Set();

function readStoredToken() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return ''; // storage disabled: the token lives in memory only
  }
}

/** The token in use, '' for none. */
export function currentToken() {
  return token;
}

/** Uses {@code value} (trimmed; '' forgets the token) for every call from now on. */
export function setToken(value) {
  token = (value || '').trim();
  try {
    if (token) {
      sessionStorage.setItem(STORAGE_KEY, token);
    } else {
      sessionStorage.removeItem(STORAGE_KEY);
    }
  } catch {
    // storage disabled: memory only
  }
  for (const listener of tokenListeners) listener(token);
}

/** Calls {@code listener(token)} whenever the token changes. */
export function onTokenChange(listener) {
  tokenListeners.add(listener);
}

/** Calls {@code listener(error)} whenever the hub answers 401: the console should ask for a token. */
export function onAuthNeeded(listener) {
  authListeners.add(listener);
}

/** Tells the listeners that the hub refused the token (or its absence). */
export function authNeeded(error) {
  for (const listener of authListeners) listener(error);
}

/** The claims of a JWT, decoded for display only (the hub verifies it), or null. */
export function tokenClaims(jwt) {
  const parts = (jwt || '').split('.');
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims !== null && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** A refusal of the hub ({"error": code, "message": ...}) or a failure to reach it. */
export class HubError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.status = status; // 0: the hub could not be reached
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** "401 token_missing: this hub requires a token ..." */
  describe() {
    return this.status === 0 ? this.message : `${this.status} ${this.code}: ${this.message}`;
  }
}

/** The headers of a call: {@code extra} plus the token, if any. */
export function headers(extra = {}) {
  const result = new Headers();
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined && value !== null && value !== '') result.set(name, value);
  }
  if (token) result.set('Authorization', `Bearer ${token}`);
  return result;
}

/** Turns a non-2xx response into a HubError, reading the hub's JSON error body when there is one. */
export async function refusal(response) {
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  let code = 'http_' + response.status;
  let message = response.statusText || 'the hub refused the request';
  try {
    const body = await response.json();
    if (body && typeof body.error === 'string') {
      code = body.error;
      message = typeof body.message === 'string' ? body.message : message;
      if (typeof body.index === 'number') message += ` (element ${body.index})`;
    }
  } catch {
    // not the hub's JSON (a proxy's page): keep the status line
  }
  const error = new HubError(response.status, code, message, Number.isFinite(retryAfter) ? retryAfter : undefined);
  if (response.status === 401) authNeeded(error);
  return error;
}

/**
 * Calls the hub: resolves to {status, headers, body (parsed JSON)} for a 2xx answer, rejects with a
 * HubError otherwise (status 0 when the hub cannot be reached).
 */
export async function call(path, { method = 'GET', extraHeaders = {}, json } = {}) {
  const init = { method, headers: headers(extraHeaders), cache: 'no-store', credentials: 'omit' };
  if (json !== undefined) {
    init.headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new HubError(0, 'unreachable', `cannot reach the hub (${e.message})`);
  }
  if (!response.ok) throw await refusal(response);
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, headers: response.headers, body };
}
