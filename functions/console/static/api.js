// The console's only way to the API: the tenant's bearer token from this tab's session, the endpoint
// by name (endpoints.js), JSON in and out. Nothing is cached: every call is `no-store`, and the token
// lives in sessionStorage (gone when the tab closes, or on sign-out / a 401).
import { ENDPOINTS } from './endpoints.js';

const KEY = 'crmsync.session';
export const SESSION_EVENT = 'crmsync:session';

export function currentSession() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

export function startSession(tenant, token) {
  sessionStorage.setItem(KEY, JSON.stringify({ tenant, token }));
  window.dispatchEvent(new Event(SESSION_EVENT));
}

export function endSession() {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event(SESSION_EVENT));
}

export class ApiError extends Error {
  constructor(status, message, body, retryAfter) {
    super(message);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

function messageOf(status, data) {
  if (data && typeof data.message === 'string') return data.message;
  if (data && Array.isArray(data.detail)) {
    return data.detail.map((d) => `${(d.loc || []).slice(1).join('.')}: ${d.msg}`).join('; ');
  }
  if (data && typeof data.detail === 'string') return data.detail;
  return `the API answered ${status}`;
}

export function pathOf(name, params = {}) {
  const [method, template] = ENDPOINTS[name].split(' ');
  const path = template.replace(/\{(\w+)\}/g, (_, key) => {
    if (params[key] === undefined) throw new Error(`${name} needs ${key}`);
    return encodeURIComponent(params[key]);
  });
  return { method, path };
}

// request('compare', { params: { record_id }, query: { refresh: true } }) -> the JSON answer.
export async function request(name, { params = {}, query = null, body, session = currentSession() } = {}) {
  if (!session) throw new ApiError(401, 'signed out', null);
  const { method, path } = pathOf(name, params);
  const search = query
    ? '?' + new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString()
    : '';
  const headers = { Authorization: `Bearer ${session.token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/tenants/${encodeURIComponent(session.tenant)}${path}${search === '?' ? '' : search}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401) endSession();
    throw new ApiError(response.status, messageOf(response.status, data), data, response.headers.get('Retry-After'));
  }
  return data;
}
