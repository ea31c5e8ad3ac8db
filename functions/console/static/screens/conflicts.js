// Conflicts: the inbox. Open conflicts (held for a person) by default, or the settled ones, or all;
// each row names the record (linked to its compare view, where it is resolved), the field, both
// sides' values and when the conflict was seen.
import { useEffect, useState } from 'preact/hooks';
import { request } from '../api.js';
import { Badge, ErrorMessage, formatTime, formatValue, html, Loading, Notice, Page, recordHref, useLoad } from '../ui.js';
import { STATUS_LABELS, WINNERS } from './conflict-labels.js';

const PAGE = 50;
const FILTERS = [
  ['open', 'Open conflicts'],
  ['settled', 'Settled conflicts'],
  ['all', 'All conflicts'],
];

// Record names for the rows shown (one read per record, at most PAGE records at a time).
function useNames(recordIds) {
  const [names, setNames] = useState({});
  const wanted = recordIds.filter((id) => !(id in names));
  const key = wanted.join(',');
  useEffect(() => {
    if (!wanted.length) return undefined;
    let live = true;
    Promise.allSettled(wanted.map((id) => request('record', { params: { record_id: id } }))).then((answers) => {
      if (!live) return;
      const found = {};
      answers.forEach((answer, i) => {
        found[wanted[i]] = answer.status === 'fulfilled' ? answer.value.fields.name || null : null;
      });
      setNames((known) => ({ ...known, ...found }));
    });
    return () => {
      live = false;
    };
  }, [key]); // eslint-disable-line
  return names;
}

function kept(c) {
  if (c.resolution !== null && c.resolution !== undefined) return c.resolution;
  if (c.winner === 'crm') return c.crm_value;
  if (c.winner === 'accounting') return c.accounting_value;
  return null;
}

export function Conflicts() {
  const [filter, setFilter] = useState('open');
  const [shown, setShown] = useState(PAGE);
  const query = filter === 'open' ? null : { all: true };
  const { data, error, loading, reload } = useLoad('conflicts', { query }, filter);
  const rows = (data || []).filter((c) => filter !== 'settled' || c.status !== 'open');
  const visible = rows.slice(0, shown);
  const names = useNames([...new Set(visible.map((c) => c.record_id))]);
  const settledView = filter !== 'open';
  const label = FILTERS.find(([value]) => value === filter)[1].toLowerCase();
  const actions = html`<button type="button" onClick=${reload}>Refresh</button>`;
  return html`<${Page} title="Conflicts" actions=${actions}>
    <div class="toolbar">
      <div class="field">
        <label for="conflict-filter">Show</label>
        <select id="conflict-filter" value=${filter} onChange=${(e) => { setFilter(e.target.value); setShown(PAGE); }}>
          ${FILTERS.map(([value, text]) => html`<option key=${value} value=${value}>${text}</option>`)}
        </select>
      </div>
    </div>
    <${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !data} />
    <${Notice} text=${data && !loading ? `${rows.length} ${label}.` : ''} />
    ${data && rows.length === 0 ? html`<p>No ${label}.</p>` : null}
    ${rows.length ? html`<table class="conflicts">
      <caption class="sr-only">${FILTERS.find(([value]) => value === filter)[1]}, newest first</caption>
      <thead><tr>
        <th scope="col">Record</th><th scope="col">Field</th><th scope="col">CRM value</th>
        <th scope="col">Accounting value</th><th scope="col">Status</th>
        ${settledView ? html`<th scope="col">Kept</th><th scope="col">Losing value</th>` : null}
        <th scope="col">Detected</th>
      </tr></thead>
      <tbody>${visible.map((c) => html`<tr key=${c.conflict_id} data-conflict=${c.conflict_id}>
        <td><a href=${recordHref(c.record_id)}>${names[c.record_id] || c.record_id}</a>
          ${names[c.record_id] ? html`<div class="muted record-id">${c.record_id}</div>` : null}
          <div class="muted">${c.object_type}</div></td>
        <td>${c.field}</td>
        <td>${formatValue(c.crm_value)}${c.crm_time ? html`<div class="muted">${formatTime(c.crm_time)}</div>` : null}</td>
        <td>${formatValue(c.accounting_value)}${c.accounting_time ? html`<div class="muted">${formatTime(c.accounting_time)}</div>` : null}</td>
        <td><${Badge} value=${c.status} label=${STATUS_LABELS[c.status] || c.status} /></td>
        ${settledView ? html`<td>${c.status === 'open' ? '—' : html`${formatValue(kept(c))} <span class="muted">(${WINNERS[c.winner] || c.winner})</span>`}</td>
          <td>${c.status === 'open' ? '—' : formatValue(c.losing_value)}</td>` : null}
        <td>${formatTime(c.detected_at)}</td>
      </tr>`)}</tbody>
    </table>
    ${rows.length > shown
      ? html`<button type="button" onClick=${() => setShown(shown + PAGE)}>More (${rows.length - shown} more)</button>`
      : null}` : null}
  <//>`;
}
