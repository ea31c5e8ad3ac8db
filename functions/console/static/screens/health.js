// Health: the tenant's state and, per connection, ok / degraded / needs attention with the reason, the
// last pull and webhook, today's rate budget; the backlog, the record counts, the last errors (each
// linked to its record) and the last drift report. Refreshes itself every 15 s.
import { Badge, ErrorMessage, formatTime, html, Loading, Page, recordHref, useInterval, useLoad } from '../ui.js';

const COUNTS = [
  ['records', 'Records'],
  ['in_sync', 'In sync'],
  ['excluded', 'Excluded'],
  ['failing', 'Failing'],
  ['in_conflict', 'In conflict'],
  ['parked', 'Parked'],
];

function Connection({ conn }) {
  const used = conn.rate_budget_used_today || 0;
  const ceiling = conn.rate_budget_per_day || 0;
  return html`<article class="card connection" aria-label=${`Connection ${conn.connection_id}`}>
    <h3>${conn.connection_id} <span class="muted">(${conn.kind})</span></h3>
    <p><${Badge} value=${conn.state} /> ${conn.reason ? html`<span class="reason">${conn.reason}</span>` : null}</p>
    <dl class="facts">
      ${conn.since ? html`<dt>Since</dt><dd>${formatTime(conn.since)}</dd>` : null}
      <dt>Last pull</dt><dd>${formatTime(conn.last_pull_at)}</dd>
      <dt>Last webhook</dt><dd>${formatTime(conn.last_webhook_at)}</dd>
      <dt>Rate budget today</dt>
      <dd>${used.toLocaleString()} of ${ceiling.toLocaleString()} calls
        <progress max=${ceiling || 1} value=${Math.min(used, ceiling || 1)} aria-label=${`Rate budget used by ${conn.connection_id}`}></progress>
      </dd>
      ${conn.next_probe_at ? html`<dt>Next try</dt><dd>${formatTime(conn.next_probe_at)}</dd>` : null}
    </dl>
  </article>`;
}

export function Health() {
  const { data, error, loading, reload } = useLoad('health');
  useInterval(reload, 15000);
  const actions = html`<button type="button" onClick=${reload}>Refresh</button>`;
  return html`<${Page} title="Health" actions=${actions}>
    <${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !data} />
    ${data ? html`
      <p class="overall">Tenant state: <${Badge} value=${data.state} /> <span class="muted">environment ${data.environment}</span></p>
      <h2>Connections</h2>
      <div class="cards">${data.connections.map((c) => html`<${Connection} key=${c.connection_id} conn=${c} />`)}</div>
      <h2>Records</h2>
      <dl class="counts">
        ${COUNTS.map(([key, label]) => html`<div key=${key}><dt>${label}</dt><dd data-count=${key}>${data.counts[key] ?? 0}</dd></div>`)}
      </dl>
      <h2>Backlog</h2>
      <ul class="plain">
        <li><a href="#/parked">Parked writes</a>: ${data.backlog.parked}</li>
        <li><a href="#/deletes">Deletions waiting for approval</a>: ${data.backlog.pending_deletes}</li>
        <li><a href="#/conflicts">Open conflicts</a>: ${data.backlog.open_conflicts}</li>
      </ul>
      <h2>Drift</h2>
      ${data.drift
        ? html`<p>Last report ${formatTime(data.drift.finished_at)}: ${data.drift.drifted_records} records
            (${data.drift.drifted_fields} fields) differ, ${data.drift.missing} missing. <a href="#/drift">Open the report</a></p>`
        : html`<p>No drift report yet. <a href="#/drift">Run one</a></p>`}
      <h2>Last errors</h2>
      ${data.last_errors.length === 0
        ? html`<p>No errors.</p>`
        : html`<table>
            <caption class="sr-only">The last errors, newest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Connection</th><th scope="col">Reason</th><th scope="col">Record</th></tr></thead>
            <tbody>${data.last_errors.map((e) => html`<tr key=${e.parked_id}>
              <td>${formatTime(e.parked_at)}</td><td>${e.connection}</td><td>${e.reason}</td>
              <td>${e.record_id ? html`<a href=${recordHref(e.record_id)}>${e.record_id}</a>` : '—'}</td>
            </tr>`)}</tbody>
          </table>`}
    ` : null}
  <//>`;
}
