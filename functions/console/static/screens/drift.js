// Drift: the last full compare of both sides with what crmsync expects. When it ran, what it read, and
// each drifted record field by field (per connection: expected = crmsync's base for that side, actual =
// what the vendor holds now), the linked records a connection no longer lists. "Run a drift report
// now" queues one (bulk work) and polls until a newer report is stored; "Fix" re-syncs a record from
// each field's owner and announces what re-reading each side decided.
import { useEffect, useRef, useState } from 'preact/hooks';
import { request } from '../api.js';
import {
  ActionButton, ErrorMessage, formatTime, formatValue, html, Loading, Notice, Page, recordHref, useInterval, useLoad,
} from '../ui.js';

const POLL_MS = 1500;
const POLL_GIVE_UP_MS = 120000;

// Items grouped by record, in the report's order: [{ record_id, object_type, items }].
function byRecord(items) {
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item.record_id)) groups.set(item.record_id, { record_id: item.record_id, object_type: item.object_type, items: [] });
    groups.get(item.record_id).items.push(item);
  }
  return [...groups.values()];
}

const count = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

// What re-reading one side decided (crmsync.engine.Decision and the worker's outcomes), in words.
const DECISIONS = {
  created: 'created',
  applied: 'its change was taken',
  unchanged: 'in step',
  echo: 'in step',
  conflict: 'a conflict was opened (see Conflicts)',
  ignored: 'not the owner: the owner\'s value is written back (its edit stays restorable)',
  parked: 'parked (see Parked writes)',
};

function fixSummary(connections) {
  const parts = Object.entries(connections || {}).map(([conn, out]) => {
    const fields = Array.isArray(out.applied) ? out.applied : Object.keys(out.applied || {});
    const took = fields.length ? ` (${fields.join(', ')})` : '';
    const said = out.decision === 'error' ? `error: ${out.error || 'unknown'}` : DECISIONS[out.decision] || out.decision;
    return `${conn}: ${said}${took}`;
  });
  return parts.length ? parts.join('; ') : 'no linked side';
}

function DriftedRecord({ group, onFixed }) {
  const result = useRef(null);
  const fix = async () => {
    result.current = await request('fixDrift', { params: { record_id: group.record_id } });
  };
  const titleId = `drift-${group.record_id}`;
  return html`<article class="card drift-record" aria-labelledby=${titleId}>
    <div class="drift-record-head">
      <h3 id=${titleId}><a href=${recordHref(group.record_id)}>${group.record_id}</a>
        <span class="muted"> ${group.object_type}, ${group.items.length} ${group.items.length === 1 ? 'field' : 'fields'}</span></h3>
      <${ActionButton} kind="primary" label=${`Fix ${group.record_id}`}
        action=${fix} onDone=${(error) => onFixed(group.record_id, error, result.current)}>Fix<//>
    </div>
    <table>
      <caption class="sr-only">Fields of ${group.record_id} that differ from what crmsync expects</caption>
      <thead><tr><th scope="col">Field</th><th scope="col">Side</th><th scope="col">Expected (crmsync's base)</th>
        <th scope="col">Actual (on that side now)</th></tr></thead>
      <tbody>${group.items.map((item) => html`<tr key=${`${item.connection}.${item.field}`} data-field=${item.field}>
        <th scope="row">${item.field.replaceAll('_', ' ')}</th>
        <td>${item.connection} <span class="muted">(id ${item.external_id})</span></td>
        <td class="expected">${formatValue(item.expected)}</td>
        <td class="actual">${formatValue(item.actual)}</td>
      </tr>`)}</tbody>
    </table>
  </article>`;
}

function Report({ report, onFixed, listHeading }) {
  const groups = byRecord(report.items || []);
  const compared = Object.entries(report.compared || {});
  const shown = (report.items || []).length;
  return html`
    <p>Last report ${report.finished_at ? html`finished <time datetime=${report.finished_at}>${formatTime(report.finished_at)}</time>`
      : html`started ${formatTime(report.started_at)}, not finished`}.
      ${compared.length ? ` Read ${compared.map(([c, n]) => `${n.toLocaleString()} records in ${c}`).join(', ')}.` : ''}</p>
    <dl class="counts">
      <div><dt>Records that differ</dt><dd data-count="drifted_records">${report.drifted_records}</dd></div>
      <div><dt>Fields that differ</dt><dd data-count="drifted_fields">${report.drifted_fields}</dd></div>
      <div><dt>Missing records</dt><dd data-count="missing">${(report.missing || []).length}</dd></div>
    </dl>
    <h2 id="drifted-title" tabindex="-1" ref=${listHeading}>Drifted records</h2>
    ${groups.length === 0
      ? html`<p>No records differ from what crmsync expects.</p>`
      : html`
        ${report.drifted_fields > shown
          ? html`<p class="muted">Showing the first ${shown} of ${report.drifted_fields} fields: fix these and run the report again for the rest.</p>`
          : null}
        <div class="drift-records">${groups.map((g) => html`<${DriftedRecord} key=${g.record_id} group=${g} onFixed=${onFixed} />`)}</div>`}
    <h2>Missing records</h2>
    ${(report.missing || []).length === 0
      ? html`<p>No linked record is missing on a side.</p>`
      : html`<p class="muted">Linked records a connection no longer lists (reported, never deleted: open one to see its sides).</p>
        <ul class="plain">${report.missing.map((id) => html`<li key=${id}><a href=${recordHref(id)}>${id}</a></li>`)}</ul>`}
  `;
}

export function Drift() {
  const { data, error, loading, reload } = useLoad('drift');
  const [waiting, setWaiting] = useState(null); // { previous: finished_at before the run, since: ms }
  const [notice, setNotice] = useState('');
  const [actionError, setActionError] = useState(null);
  const listHeading = useRef(null);
  const report = data ? data.report : null;

  useInterval(reload, POLL_MS, waiting !== null);
  useEffect(() => {
    if (!waiting) return;
    const finished = report && report.finished_at;
    if (finished && finished !== waiting.previous) {
      setWaiting(null);
      setNotice(`Drift report finished: ${count(report.drifted_records, 'record')} (${count(report.drifted_fields, 'field')}) ${report.drifted_records === 1 ? 'differs' : 'differ'}, ${report.missing.length} missing.`);
    } else if (Date.now() - waiting.since > POLL_GIVE_UP_MS) {
      setWaiting(null);
      setActionError(new Error('No new report yet: the run is still queued behind other bulk work, or the tenant\'s sync is off. Reload later.'));
    }
  }, [data]); // eslint-disable-line

  const run = async () => {
    setNotice('');
    setActionError(null);
    await request('runDrift');
  };
  const onRun = (err) => {
    if (err) {
      setActionError(err);
      return;
    }
    setNotice('Drift report queued: reading every record of both sides…');
    setWaiting({ previous: report ? report.finished_at : null, since: Date.now() });
  };
  const onFixed = (recordId, err, result) => {
    if (err) {
      setActionError(err);
      return;
    }
    setActionError(null);
    setNotice(`Fixed ${recordId}: re-synced from each field's owner. ${fixSummary(result && result.connections)}.`);
    reload();
    if (listHeading.current) listHeading.current.focus();
  };

  const actions = html`
    <${ActionButton} kind="primary" action=${run} onDone=${onRun} disabled=${waiting !== null}>Run a drift report now<//>
    <button type="button" onClick=${reload}>Refresh</button>`;
  return html`<${Page} title="Drift" actions=${actions}>
    <p class="muted">A full compare of both sides with what crmsync expects: changes no webhook reported, edits made while a connection was broken.</p>
    <${ErrorMessage} error=${error} />
    <${ErrorMessage} error=${actionError} />
    <${Notice} text=${notice} />
    ${waiting ? html`<p class="running" aria-busy="true"><span class="spinner" aria-hidden="true"></span> Running… the report appears here when it is done.</p>` : null}
    <${Loading} loading=${loading && !data} />
    ${data && !report ? html`<p>No drift report yet. Run one now.</p>` : null}
    ${report ? html`<${Report} report=${report} onFixed=${onFixed} listHeading=${listHeading} />` : null}
  <//>`;
}
