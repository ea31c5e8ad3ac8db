// Deletions waiting for approval: a record deleted on one side, held (the tenant approves deletions, or
// the mass-delete guard tripped, or the other side refused) with the reason. Approve deletes it on the
// other side(s) after a confirmation step; Reject keeps it there for good. Outcomes are announced and
// the list reloaded.
import { useEffect, useRef, useState } from 'preact/hooks';
import { request } from '../api.js';
import {
  ActionButton, ErrorMessage, formatTime, html, Loading, MoreButton, Notice, Page, recordHref, usePages,
} from '../ui.js';

function targetsText(targets) {
  return Object.entries(targets || {}).map(([conn, ext]) => `${conn}: ${ext}`).join(', ');
}

function outcomeText(entry, decision) {
  const who = entry.name || entry.record_id;
  const where = targetsText(entry.targets) || 'the other side';
  switch (decision.outcome) {
    case 'propagated': return `Deleted: ${who} was deleted on ${where}.`;
    case 'kept': return `Rejected: ${who} stays on ${where}; crmsync will not write to the deleted side again.`;
    case 'refused': return `Not deleted: ${where} refused; the reason is shown in the list.`;
    case 'gone': return `${who} no longer exists; removed from the list.`;
    case 'pending': return `${who} is still waiting.`;
    default: return `${who}: ${decision.outcome}.`;
  }
}

function Confirm({ entry, onDecided, onCancel }) {
  const first = useRef(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (first.current) first.current.focus();
  }, []);
  const approve = async () => {
    setBusy(true);
    try {
      onDecided(entry, await request('approveDelete', { params: { record_id: entry.record_id } }));
    } catch (error) {
      onDecided(entry, null, error);
    } finally {
      setBusy(false);
    }
  };
  const who = entry.name || entry.record_id;
  return html`<div class="delete-confirm" role="group" aria-label=${`Confirm deleting ${who}`}>
    <p>Delete ${who} on ${targetsText(entry.targets)}? This cannot be undone.</p>
    <div class="delete-confirm-buttons">
      <button type="button" class="danger" ref=${first} onClick=${approve} disabled=${busy}
        aria-busy=${busy ? 'true' : 'false'}>Confirm deletion</button>
      <button type="button" onClick=${onCancel} disabled=${busy}>Cancel</button>
    </div>
  </div>`;
}

function Row({ entry, onDecided }) {
  const [confirming, setConfirming] = useState(false);
  const who = entry.name || entry.record_id;
  return html`<tr data-record-id=${entry.record_id}>
    <td><a href=${recordHref(entry.record_id)}>${who}</a>${entry.name ? html`<div class="muted">${entry.record_id}</div>` : null}</td>
    <td>${entry.object_type}</td>
    <td>${entry.deleted_on}</td>
    <td>${targetsText(entry.targets) || '—'}</td>
    <td>${formatTime(entry.at)}</td>
    <td class="delete-reason">${entry.reason || html`<span class="muted">deletions wait for approval (tenant setting)</span>`}</td>
    <td class="delete-actions">
      ${confirming
        ? html`<${Confirm} entry=${entry} onDecided=${onDecided} onCancel=${() => setConfirming(false)} />`
        : html`
          <button type="button" class="danger" aria-label=${`Approve deleting ${who}`} onClick=${() => setConfirming(true)}>Approve…</button>
          <${ActionButton} label=${`Reject deleting ${who}`}
            action=${async () => onDecided(entry, await request('rejectDelete', { params: { record_id: entry.record_id } }))}
            onDone=${(error) => error && onDecided(entry, null, error)}>Reject<//>`}
    </td>
  </tr>`;
}

export function Deletes() {
  const pages = usePages('deletes');
  const { data, error, loading, reload, items } = pages;
  const [notice, setNotice] = useState('');
  const [failure, setFailure] = useState(null);
  const onDecided = (entry, decision, err = null) => {
    setFailure(err);
    setNotice(err ? '' : outcomeText(entry, decision));
    reload();
  };
  const actions = html`<button type="button" onClick=${reload}>Refresh</button>`;
  return html`<${Page} title="Deletions waiting for approval" actions=${actions}>
    <p class="muted">Records deleted on one side. Approve to delete them on the other side too; reject to keep
      them there.</p>
    <${Notice} text=${notice} />
    <${ErrorMessage} error=${failure} />
    <${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !data} />
    ${data ? (items.length === 0
      ? html`<p>No deletions waiting.</p>`
      : html`<table class="deletes">
          <caption class="sr-only">Deletions waiting for approval, with the reason they wait</caption>
          <thead><tr>
            <th scope="col">Record</th><th scope="col">Type</th><th scope="col">Deleted on</th>
            <th scope="col">Would be deleted on</th><th scope="col">When</th><th scope="col">Reason</th>
            <th scope="col"><span class="sr-only">Actions</span></th>
          </tr></thead>
          <tbody>${items.map((entry) => html`<${Row} key=${entry.record_id} entry=${entry} onDecided=${onDecided} />`)}</tbody>
        </table>`) : null}
    <${MoreButton} pages=${pages} label="More deletions" />
  <//>`;
}
