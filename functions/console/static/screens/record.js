// Record: the compare view of one record (#/records/<record_id>). Per field the CRM, crmsync and
// accounting values side by side with the field's owner, direction, rule and state; resolve the
// fields that are held, in conflict or differ, field by field (take CRM, take accounting or a typed
// value); restore a settled conflict's losing value; the record's links, "Sync now", "Re-read both
// sides" and its timeline (newest first).
import { useState } from 'preact/hooks';
import { request } from '../api.js';
import {
  ActionButton, Badge, ErrorMessage, formatTime, formatValue, html, Loading, Notice, Page, recordHref, useLoad,
} from '../ui.js';
import { STATUS_LABELS, WINNERS } from './conflict-labels.js';

const DIRECTIONS = {
  both: 'both ways',
  to_crm: 'to CRM',
  to_accounting: 'to accounting',
  none: 'not synced',
};


const RESTORABLE = new Set(['auto', 'overridden', 'resolved']);
const RELATIONS = new Set(['customer', 'parent_account']); // fields holding another record's id
const TIMELINE_PAGE = 20;

function quoted(value) {
  return `“${formatValue(value)}”`;
}

function fieldState(row) {
  if (row.open_conflict) return html`<${Badge} value="in_conflict" label="in conflict" />`;
  if (row.held) return html`<${Badge} value="held" />`;
  if (!row.in_sync) return html`<${Badge} value="check" label="differs" />`;
  return html`<${Badge} value="in_sync" label="in sync" />`;
}

function needsDecision(row) {
  return Boolean(row.open_conflict || row.held || !row.in_sync);
}

function isBoolean(row) {
  return [row.crm, row.accounting, row.crmsync].some((v) => typeof v === 'boolean') || row.field === 'barred';
}

function FieldsTable({ view }) {
  return html`<table class="compare">
    <caption class="sr-only">Per field: the CRM, crmsync and accounting values, owner, direction and state</caption>
    <thead><tr>
      <th scope="col">Field</th><th scope="col">CRM</th><th scope="col">crmsync</th><th scope="col">Accounting</th>
      <th scope="col">Owner</th><th scope="col">Direction</th><th scope="col">Rule</th><th scope="col">State</th>
    </tr></thead>
    <tbody>${view.fields.map((row) => html`<tr key=${row.field} data-field=${row.field}
        class=${needsDecision(row) ? 'differs' : ''}>
      <th scope="row">${row.field}</th>
      <td data-side="crm">${formatValue(row.crm)}
        ${row.unmapped_crm_value ? html`<div class="note">no value mapping for ${quoted(row.unmapped_crm_value)}</div>` : null}</td>
      <td data-side="crmsync">${RELATIONS.has(row.field) && typeof row.crmsync === 'string' && row.crmsync.startsWith('cus_')
          ? html`<a href=${recordHref(row.crmsync)}>${row.crmsync}</a>` : formatValue(row.crmsync)}
        ${row.no_crm_mapping ? html`<div class="note">no CRM value in the map</div>` : null}</td>
      <td data-side="accounting">${formatValue(row.accounting)}</td>
      <td class="nowrap">${row.owner}</td>
      <td class="nowrap">${DIRECTIONS[row.direction] || row.direction}</td>
      <td class="nowrap">${row.rule.replaceAll('_', ' ')}</td>
      <td data-state>${fieldState(row)}</td>
    </tr>`)}</tbody>
  </table>`;
}

// One field's choice: leave it, take CRM, take accounting, or a typed value.
function Choice({ row, view, choice, onChange }) {
  const id = `resolve-${row.field}`;
  const canCrm = view.exists.crm !== false && !row.unmapped_crm_value;
  const canAccounting = view.exists.accounting !== false;
  const take = choice.take || '';
  const pick = (value) => () => onChange({ ...choice, take: value });
  const typed = (event) => onChange({ take: 'value', value: event.target.value });
  const radio = (value, label, disabled = false) => html`<div class="choice">
    <input type="radio" id=${`${id}-${value || 'keep'}`} name=${id} value=${value} checked=${take === value}
      disabled=${disabled} onChange=${pick(value)} />
    <label for=${`${id}-${value || 'keep'}`}>${label}</label>
  </div>`;
  return html`<fieldset class="resolve-field" data-field=${row.field}>
    <legend>${row.field} ${fieldState(row)}</legend>
    ${radio('', 'Leave as is')}
    ${radio('crm', html`Take CRM <span class="value">${quoted(row.crm)}</span>`, !canCrm)}
    ${radio('accounting', html`Take accounting <span class="value">${quoted(row.accounting)}</span>`, !canAccounting)}
    ${radio('value', 'Type a value')}
    <div class="typed">
      <label for=${`${id}-typed`}>Value for ${row.field}</label>
      ${isBoolean(row)
        ? html`<select id=${`${id}-typed`} value=${choice.value ?? ''} onChange=${typed}>
            <option value="">(empty)</option><option value="true">yes</option><option value="false">no</option>
          </select>`
        : html`<input id=${`${id}-typed`} type="text" value=${choice.value ?? ''} onInput=${typed}
            aria-describedby=${`${id}-hint`} />`}
      ${isBoolean(row) ? null : html`<span id=${`${id}-hint`} class="muted hint">Empty clears the field.</span>`}
    </div>
  </fieldset>`;
}

function chosenBody(rows, choices) {
  const fields = {};
  for (const row of rows) {
    const choice = choices[row.field];
    if (!choice || !choice.take) continue;
    if (choice.take !== 'value') {
      fields[row.field] = { take: choice.take };
    } else if (isBoolean(row)) {
      fields[row.field] = { take: 'value', value: choice.value === '' || choice.value === undefined ? null : choice.value === 'true' };
    } else {
      const text = choice.value ?? '';
      fields[row.field] = { take: 'value', value: text.trim() === '' ? null : text };
    }
  }
  return fields;
}

function ResolveForm({ view, recordId, onResolved }) {
  const rows = view.fields.filter(needsDecision).sort((a, b) => Number(Boolean(b.open_conflict || b.held)) - Number(Boolean(a.open_conflict || a.held)));
  const [choices, setChoices] = useState({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (rows.length === 0) return html`<p>No field is held, in conflict or different: nothing to resolve.</p>`;
  const fields = chosenBody(rows, choices);
  const count = Object.keys(fields).length;
  const submit = async (event) => {
    event.preventDefault();
    if (count === 0) return;
    setBusy(true);
    setError(null);
    try {
      const result = await request('resolve', { params: { record_id: recordId }, body: { fields } });
      const parts = Object.entries(result.fields).map(([name, value]) => `${name} = ${quoted(value)}`);
      setChoices({});
      onResolved(`Resolved ${parts.join(', ')}. The chosen values are being written to both sides.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="resolve" onSubmit=${submit} aria-labelledby="resolve-title">
    <p class="muted">Choose per field; fields left as they are stay unchanged. A choice is written to both sides.</p>
    ${rows.map((row) => html`<${Choice} key=${row.field} row=${row} view=${view} choice=${choices[row.field] || {}}
      onChange=${(choice) => setChoices({ ...choices, [row.field]: choice })} />`)}
    <${ErrorMessage} error=${error} />
    <button type="submit" class="primary" disabled=${busy || count === 0} aria-busy=${busy ? 'true' : 'false'}>
      ${count === 1 ? 'Resolve 1 field' : `Resolve ${count} fields`}
    </button>
  </form>`;
}

function Settled({ conflicts, onRestored }) {
  const settled = conflicts.filter((c) => c.status !== 'open');
  if (settled.length === 0) return html`<p>No settled conflicts.</p>`;
  return html`<table class="settled">
    <caption class="sr-only">Settled conflicts of this record, newest first; a losing value can be restored</caption>
    <thead><tr>
      <th scope="col">Field</th><th scope="col">Status</th><th scope="col">CRM value</th><th scope="col">Accounting value</th>
      <th scope="col">Kept</th><th scope="col">Losing value</th><th scope="col">Detected</th><th scope="col">Action</th>
    </tr></thead>
    <tbody>${settled.map((c) => html`<tr key=${c.conflict_id} data-conflict=${c.conflict_id}>
      <th scope="row">${c.field}</th>
      <td><${Badge} value=${c.status} label=${STATUS_LABELS[c.status] || c.status} /></td>
      <td>${formatValue(c.crm_value)}</td>
      <td>${formatValue(c.accounting_value)}</td>
      <td>${formatValue(c.resolution ?? (c.winner === 'crm' ? c.crm_value : c.winner === 'accounting' ? c.accounting_value : null))}
        <span class="muted"> (${WINNERS[c.winner] || c.winner})</span></td>
      <td>${formatValue(c.losing_value)}</td>
      <td>${formatTime(c.detected_at)}</td>
      <td>${RESTORABLE.has(c.status)
        ? html`<${ActionButton} action=${() => request('restore', { params: { conflict_id: c.conflict_id } })}
            onDone=${(err) => onRestored(err, c)}>Restore ${quoted(c.losing_value)}<//>`
        : html`<span class="muted">—</span>`}</td>
    </tr>`)}</tbody>
  </table>`;
}

function describeEntry(entry) {
  const parts = [];
  for (const [name, change] of Object.entries(entry.changes || {})) {
    parts.push(`${name}: ${formatValue(change && change.before)} → ${formatValue(change && change.after)}`);
  }
  for (const key of ['conflicts', 'held', 'overridden', 'unmapped']) {
    if (entry[key] && entry[key].length) parts.push(`${key}: ${entry[key].join(', ')}`);
  }
  if (entry.action) parts.push(`action: ${entry.action}`);
  return parts;
}

// A timeline entry's details: short ones in full, long ones (a creation) folded.
function Details({ parts }) {
  const lines = parts.map((p) => html`<div>${p}</div>`);
  if (parts.length <= 4) return lines;
  return html`<details><summary>${parts.length} details</summary>${lines}</details>`;
}

function Timeline({ recordId, stamp }) {
  const { data, error, loading } = useLoad('timeline', { params: { record_id: recordId } }, `${recordId}:${stamp}`);
  const [shown, setShown] = useState(TIMELINE_PAGE);
  const entries = data ? [...data.entries].reverse() : [];
  return html`<${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !data} />
    ${data && entries.length === 0 ? html`<p>No timeline entries.</p>` : null}
    ${entries.length ? html`<table class="timeline">
      <caption class="sr-only">The record's timeline, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Decision</th>
        <th scope="col">Connection</th><th scope="col">Details</th></tr></thead>
      <tbody>${entries.slice(0, shown).map((e, i) => html`<tr key=${`${e.at}-${i}`}>
        <td>${formatTime(e.at)}</td><td>${e.kind || '—'}${e.signal ? html` <span class="muted">(${e.signal})</span>` : null}</td>
        <td>${e.decision}</td><td>${e.connection || '—'}</td>
        <td><${Details} parts=${describeEntry(e)} /></td>
      </tr>`)}</tbody>
    </table>
    ${entries.length > shown
      ? html`<button type="button" onClick=${() => setShown(shown + TIMELINE_PAGE)}>More (${entries.length - shown} older)</button>`
      : null}` : null}`;
}

function syncSummary(result) {
  const parts = Object.entries(result.connections || {}).map(([conn, out]) => {
    const detail = out.error || [...(out.applied || []), ...(out.conflicts || [])].join(', ');
    return `${conn} ${out.decision}${detail ? ` (${detail})` : ''}`;
  });
  return parts.length ? `Synced now: ${parts.join('; ')}.` : 'Synced now: the record has no linked side.';
}

export function Record({ record_id: recordId }) {
  const [stamp, setStamp] = useState(0);
  const [notice, setNotice] = useState('');
  const [actionError, setActionError] = useState(null);
  const compare = useLoad('compare', { params: { record_id: recordId } }, `${recordId}:${stamp}`);
  const conflicts = useLoad('conflicts', { query: { record_id: recordId, all: true } }, `${recordId}:${stamp}`);
  const view = compare.data;
  const reloadAll = () => setStamp((s) => s + 1);
  const done = (message) => (error) => {
    if (error) {
      setActionError(error);
      setNotice('');
      return;
    }
    setActionError(null);
    setNotice(message);
    reloadAll();
  };
  const name = view ? view.fields.find((f) => f.field === 'name')?.crmsync : null;
  const kind = view ? (view.object_type === 'contact' ? 'Contact' : 'Customer') : 'Record';
  const title = name ? `${kind}: ${name}` : kind;
  let synced = null;
  const actions = html`
    <${ActionButton} action=${() => request('compare', { params: { record_id: recordId }, query: { refresh: true } })}
      onDone=${done('Re-read both sides.')}>Re-read both sides<//>
    <${ActionButton} kind="primary" action=${async () => { synced = await request('syncRecord', { params: { record_id: recordId } }); }}
      onDone=${(error) => done(synced ? syncSummary(synced) : 'Synced now.')(error)}>Sync now<//>`;
  return html`<${Page} title=${title} actions=${actions}>
    <p class="muted record-id">Record <code>${recordId}</code></p>
    <${Notice} text=${notice} />
    <${ErrorMessage} error=${actionError} />
    <${ErrorMessage} error=${compare.error} />
    <${Loading} loading=${compare.loading && !view} />
    ${view ? html`
      <p class="overall">
        ${view.in_sync ? html`<${Badge} value="in_sync" label="in sync" />` : html`<${Badge} value="check" label="not in sync" />`}
        ${' '}<span class="muted">CRM: ${view.exists.crm ? 'exists' : 'missing'}; accounting: ${view.exists.accounting ? 'exists' : 'missing'}</span>
      </p>
      <h2>Links</h2>
      ${Object.keys(view.links).length === 0
        ? html`<p>No links.</p>`
        : html`<dl class="facts links">${Object.entries(view.links).map(([conn, id]) => html`<dt key=${`${conn}-dt`}>${conn}</dt><dd key=${`${conn}-dd`}><code>${id}</code></dd>`)}</dl>`}
      ${Object.keys(view.parked || {}).length
        ? html`<p>Parked writes: ${Object.keys(view.parked).join(', ')}. <a href="#/parked">Open parked writes</a></p>`
        : null}
      <h2>Fields</h2>
      <${FieldsTable} view=${view} />
      <h2 id="resolve-title">Resolve</h2>
      <${ResolveForm} key=${`resolve-${stamp}`} view=${view} recordId=${recordId}
        onResolved=${(message) => { setActionError(null); setNotice(message); reloadAll(); }} />
      <h2>Settled conflicts</h2>
      <${ErrorMessage} error=${conflicts.error} />
      <${Loading} loading=${conflicts.loading && !conflicts.data} />
      ${conflicts.data ? html`<${Settled} conflicts=${conflicts.data}
        onRestored=${(error, c) => done(`Restored ${quoted(c.losing_value)} to ${c.field}. It is being written to both sides.`)(error)} />` : null}
      <h2>Timeline</h2>
      <${Timeline} recordId=${recordId} stamp=${stamp} />
    ` : null}
  <//>`;
}
