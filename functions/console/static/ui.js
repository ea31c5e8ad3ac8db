// Shared pieces of every screen: markup (htm bound to Preact), loading an endpoint, messages that
// screen readers announce, badges, and a button that runs one API call at a time.
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { request } from './api.js';

export const html = htm.bind(h);

// { data, error, loading, reload } of one endpoint; reloads when `key` (e.g. a query string) changes.
export function useLoad(name, options = {}, key = '') {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const latest = useRef(0);
  const reload = useCallback(async () => {
    const call = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await request(name, options);
      if (call === latest.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (call === latest.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, [name, key]); // eslint-disable-line
  useEffect(() => {
    reload();
  }, [reload]);
  return { ...state, reload };
}

// A paged list ({ items, cursor } answers): the first page as useLoad, then `more()` appends the next
// while `hasMore`; a reload starts again from the first page.
export function usePages(name, options = {}, key = '') {
  const first = useLoad(name, options, key);
  const [extra, setExtra] = useState({ items: [], cursor: null, of: null });
  const [moreError, setMoreError] = useState(null);
  const current = extra.of === first.data ? extra : { items: [], cursor: first.data?.cursor ?? null, of: first.data };
  const more = async () => {
    setMoreError(null);
    try {
      const page = await request(name, { ...options, query: { ...(options.query || {}), cursor: current.cursor } });
      setExtra({ items: [...current.items, ...page.items], cursor: page.cursor ?? null, of: first.data });
    } catch (error) {
      setMoreError(error);
    }
  };
  const items = first.data ? [...first.data.items, ...current.items] : [];
  return { ...first, error: first.error || moreError, items, hasMore: Boolean(current.cursor), more };
}

// "More" under a paged list (usePages), when there is more.
export function MoreButton({ pages, label }) {
  return pages.hasMore
    ? html`<p><${ActionButton} action=${pages.more} label=${label}>More<//></p>`
    : null;
}

// Calls `fn` every `ms` while `active`; stops on unmount.
export function useInterval(fn, ms, active = true) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return undefined;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

export function Page({ title, actions = null, children }) {
  const heading = useRef(null);
  useEffect(() => {
    // A new screen: move focus to its heading, so keyboard and screen-reader users start there.
    if (heading.current) heading.current.focus();
  }, [title]);
  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title" tabindex="-1" ref=${heading}>${title}</h1>
      ${actions ? html`<div class="page-actions">${actions}</div>` : null}
    </div>
    ${children}
  </section>`;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  const status = error.status ? ` (${error.status})` : '';
  return html`<p class="message error" role="alert">${error.message || String(error)}${status}</p>`;
}

// A polite live region: "Linked.", "Replayed." ... read out without moving focus.
export function Notice({ text }) {
  return html`<p class="message notice" role="status" aria-live="polite">${text || ''}</p>`;
}

export function Loading({ loading }) {
  return loading ? html`<p class="muted" aria-live="polite">Loading…</p>` : null;
}

const TONES = {
  ok: 'good', in_sync: 'good', sure: 'good', linked: 'good', resolved: 'good',
  degraded: 'warn', likely: 'warn', held: 'warn', parked: 'warn', open: 'warn', pending: 'warn',
  needs_attention: 'bad', check: 'info', weak: 'muted', failing: 'bad', in_conflict: 'bad', conflict: 'bad',
};

export function Badge({ value, label = null }) {
  if (value === null || value === undefined || value === '') return null;
  const text = label || String(value).replaceAll('_', ' ');
  return html`<span class=${`badge ${TONES[value] || 'info'}`}>${text}</span>`;
}

// A button that runs one async action at a time and reports its outcome to `onDone(error|null)`.
export function ActionButton({ action, onDone = () => {}, children, kind = '', label = null, disabled = false }) {
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await action();
      onDone(null);
    } catch (error) {
      onDone(error);
    } finally {
      setBusy(false);
    }
  };
  return html`<button type="button" class=${kind} onClick=${run} disabled=${busy || disabled}
    aria-busy=${busy ? 'true' : 'false'} aria-label=${label || undefined}>${children}</button>`;
}

export function formatTime(iso) {
  if (!iso) return '—';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleString();
}

export function formatValue(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// A matching reason as a person reads it ("same customer_number (exact key)" -> "same customer number ...").
export function reasonText(reason) {
  return String(reason).replaceAll('_', ' ');
}

// Link inside the console (hash routes): "#/records/cus_..." for a record's compare view.
export function recordHref(recordId) {
  return `#/records/${encodeURIComponent(recordId)}`;
}
