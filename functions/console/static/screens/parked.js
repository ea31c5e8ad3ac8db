// Parked writes: each write a target refused (connection, record, the vendor's reason and error code,
// attempts, when) and each queue message that could not go on. "Replay" pushes a write again from the
// sources' current state (never the old payload): fix the value at its source first, then replay. A
// message is sent to its queue again. The outcome is announced and the list reloaded.
import { request } from '../api.js';
import {
  ActionButton, Badge, ErrorMessage, formatTime, html, Loading, MoreButton, Notice, Page, recordHref, usePages,
} from '../ui.js';
import { useState } from 'preact/hooks';

function outcomeOf(entry, result) {
  if (result.requeued) return `Replayed: the ${result.requeued.replaceAll('_', ' ')} message went back to its queue.`;
  const what = `${result.record_id} on ${result.connection}`;
  if (result.replayed) {
    const counts = [];
    if (result.created) counts.push(`${result.created} created`);
    if (result.updated) counts.push(`${result.updated} updated`);
    return `Replayed: ${result.connection} took the write of ${result.record_id}${counts.length ? ` (${counts.join(', ')})` : ''}.`;
  }
  if (result.parked_again) return `Refused again: ${what}: ${result.parked_again.reason}`;
  if (result.retry_later) return `The write of ${what} failed again; it will be retried.`;
  return `Replayed ${entry.id}.`;
}

function What({ entry }) {
  if (entry.kind === 'write') {
    return html`${entry.action} ${entry.object_type}
      ${entry.fields && entry.fields.length ? html`<span class="muted parked-fields">(${entry.fields.join(', ')})</span>` : null}`;
  }
  return html`${entry.kind.replaceAll('_', ' ')} message`;
}

function Row({ entry, onReplayed }) {
  const record = entry.record_id;
  const name = record ? `${record}${entry.connection ? ` to ${entry.connection}` : ''}` : entry.id;
  return html`<tr data-parked-id=${entry.id}>
    <td>${formatTime(entry.parked_at)}</td>
    <td>${entry.connection || '—'}</td>
    <td>${record ? html`<a href=${recordHref(record)}>${record}</a>` : '—'}</td>
    <td><${What} entry=${entry} /></td>
    <td class="parked-reason">${entry.reason}</td>
    <td>${entry.error_code ? html`<code>${entry.error_code}</code>` : '—'}
      ${entry.request_id ? html`<div class="muted">request ${entry.request_id}</div>` : null}</td>
    <td class="num">${entry.attempts}</td>
    <td>
      <${ActionButton} kind="primary" label=${`Replay ${name}`}
        action=${async () => onReplayed(entry, await request('replay', { params: { parked_id: entry.id } }))}
        onDone=${(error) => error && onReplayed(entry, null, error)}>Replay<//>
    </td>
  </tr>`;
}

export function Parked() {
  const pages = usePages('parked');
  const { data, error, loading, reload, items } = pages;
  const [notice, setNotice] = useState('');
  const [failure, setFailure] = useState(null);
  const onReplayed = (entry, result, err = null) => {
    setFailure(err);
    setNotice(err ? '' : outcomeOf(entry, result));
    reload();
  };
  const actions = html`<button type="button" onClick=${reload}>Refresh</button>`;
  return html`<${Page} title="Parked writes" actions=${actions}>
    <p class="muted">Writes a target refused, and work that could not go on. Replay re-reads the sources and
      pushes their current state: fix the value at its source first.</p>
    <${Notice} text=${notice} />
    <${ErrorMessage} error=${failure} />
    <${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !data} />
    ${data ? html`
      <p class="parked-count"><${Badge} value=${items.length ? 'parked' : 'ok'}
        label=${`${items.length}${pages.hasMore ? '+' : ''} parked`} /></p>
      ${items.length === 0
        ? html`<p>No parked writes.</p>`
        : html`<table class="parked">
            <caption class="sr-only">Parked writes, with the target's reason</caption>
            <thead><tr>
              <th scope="col">When</th><th scope="col">Connection</th><th scope="col">Record</th>
              <th scope="col">What</th><th scope="col">Reason</th><th scope="col">Error code</th>
              <th scope="col">Attempts</th><th scope="col"><span class="sr-only">Actions</span></th>
            </tr></thead>
            <tbody>${items.map((entry) => html`<${Row} key=${entry.id} entry=${entry} onReplayed=${onReplayed} />`)}</tbody>
          </table>`}
      <${MoreButton} pages=${pages} label="More parked writes" />
    ` : null}
  <//>`;
}
