// Link customers: the customers of both sides with their link state, filtered by state (the API) and by
// text (the rows loaded so far). An unlinked customer lists its candidates on the other side, best first,
// with their band (sure / likely / check / weak), score and reasons: link it to one of them, or create
// it on the other side. A linked customer opens its compare view, or is unlinked after a confirmation.
// "Transfer all" shows what a transfer from one side would do (a dry run) before it starts the job,
// then follows the job's progress every 500 ms until it has finished.
import { useEffect, useRef, useState } from 'preact/hooks';
import { request } from '../api.js';
import {
  ActionButton,
  Badge,
  ErrorMessage,
  formatValue,
  html,
  Loading,
  Notice,
  Page,
  reasonText,
  recordHref,
  useInterval,
  useLoad,
} from '../ui.js';

const STATES = [
  ['', 'All customers'],
  ['unlinked', 'Unlinked'],
  ['has_candidates', 'Unlinked with candidates'],
  ['linked', 'Linked'],
];
const PAGE_SIZES = [25, 50, 100, 200];
const VENDORS = { economic: 'e-conomic', hubspot: 'HubSpot', dynamics: 'Dynamics 365' };
const POLL_MS = 500;

function sideOf(kind) {
  return kind === 'economic' ? 'accounting' : 'crm';
}

// The tenant's connections by side: { crm: {connection_id, kind, vendor}, accounting: {...}, byId }.
function sidesOf(config) {
  const sides = { crm: null, accounting: null, byId: {} };
  for (const conn of config?.connections || []) {
    const entry = { ...conn, vendor: VENDORS[conn.kind] || conn.kind };
    sides.byId[conn.connection_id] = entry;
    if (!sides[sideOf(conn.kind)]) sides[sideOf(conn.kind)] = entry;
  }
  return sides;
}

function vendorOf(sides, side) {
  return sides[side]?.vendor || (side === 'crm' ? 'the CRM' : 'accounting');
}

function nameOf(row) {
  const name = row && row.name !== null && row.name !== undefined && row.name !== '' ? formatValue(row.name) : null;
  return name || (row ? row.record_id : '');
}

function stateLabel(state, sides) {
  if (state === 'linked') return 'linked';
  if (state === 'crm_only') return `only in ${vendorOf(sides, 'crm')}`;
  if (state === 'accounting_only') return `only in ${vendorOf(sides, 'accounting')}`;
  return state;
}

// Rows of one state filter, page after page, until `want` rows are there or the API has no more.
async function fetchRows(state, limit, want, cursor = null) {
  const rows = [];
  let next = cursor;
  let calls = 0;
  const most = Math.ceil(want / limit) + 2; // a state filter may thin pages out: a few more, not all
  do {
    calls += 1;
    const page = await request('linkCustomers', { query: { state, limit, cursor: next } });
    rows.push(...page.items);
    next = page.cursor || null;
  } while (next && rows.length < want && calls < most);
  return { rows, cursor: next };
}

// One candidate on the other side: its name, band, score and reasons, and the button that links it.
function CandidateItem({ row, candidate, otherName, onLink }) {
  return html`<li data-candidate=${candidate.record_id}>
    <div class="candidate-head">
      <a href=${recordHref(candidate.record_id)}>${otherName}</a>
      <${Badge} value=${candidate.band} label=${candidate.band} />
      <span class="score">score ${Number(candidate.score).toFixed(2)}</span>
      <${ActionButton} kind="primary" label=${`Link ${nameOf(row)} with ${otherName}`}
        action=${() => onLink(row, candidate, otherName)}>Link<//>
    </div>
    ${candidate.reasons && candidate.reasons.length
      ? html`<p class="reasons muted">${candidate.reasons.map(reasonText).join('; ')}</p>`
      : null}
  </li>`;
}

// A candidate without a name in the answer and not among the rows on screen: its name comes from its record.
function RemoteCandidate({ row, candidate, onLink }) {
  const { data } = useLoad('record', { params: { record_id: candidate.record_id } }, candidate.record_id);
  const otherName = nameOf({ record_id: candidate.record_id, name: data?.fields?.name });
  return html`<${CandidateItem} row=${row} candidate=${candidate} otherName=${otherName} onLink=${onLink} />`;
}

function Candidate({ row, candidate, known, onLink }) {
  const other = known.get(candidate.record_id) || (candidate.name ? candidate : null);
  return other
    ? html`<${CandidateItem} row=${row} candidate=${candidate} otherName=${nameOf(other)} onLink=${onLink} />`
    : html`<${RemoteCandidate} row=${row} candidate=${candidate} onLink=${onLink} />`;
}

function Candidates({ row, known, onLink }) {
  if (!row.candidates || row.candidates.length === 0) return html`<span class="muted">No candidates.</span>`;
  return html`<ul class="candidates">
    ${row.candidates.map((c) => html`<${Candidate} key=${c.record_id} row=${row} candidate=${c} known=${known}
      onLink=${onLink} />`)}
  </ul>`;
}

function UnlinkControl({ row, onUnlink, onError }) {
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef(null);
  const openRef = useRef(null);
  useEffect(() => {
    if (confirming && confirmRef.current) confirmRef.current.querySelector('button.danger')?.focus();
  }, [confirming]);
  const cancel = () => {
    setConfirming(false);
    setTimeout(() => openRef.current && openRef.current.focus(), 0);
  };
  if (!confirming) {
    return html`<button type="button" class="danger" ref=${openRef} aria-label=${`Unlink ${nameOf(row)}`}
      onClick=${() => setConfirming(true)}>Unlink</button>`;
  }
  return html`<div class="confirm" role="group" aria-label=${`Confirm unlinking ${nameOf(row)}`} ref=${confirmRef}>
    <p>Unlink <strong>${nameOf(row)}</strong>? Both sides keep their data; the sync between them stops.</p>
    <${ActionButton} kind="danger" label=${`Yes, unlink ${nameOf(row)}`} action=${() => onUnlink(row)}
      onDone=${(error) => { if (error) onError(error); }}>Yes, unlink<//>
    <button type="button" onClick=${cancel}>Cancel</button>
  </div>`;
}

function Row({ row, sides, known, onLink, onUnlink, onCreate, onError }) {
  const name = nameOf(row);
  const linked = row.state === 'linked';
  const otherSide = row.state === 'crm_only' ? 'accounting' : 'crm';
  const target = sides[otherSide];
  return html`<tr data-record=${row.record_id} data-state=${row.state}>
    <th scope="row">
      <span class="customer-name">${name}</span>
      ${row.customer_number !== null && row.customer_number !== undefined
        ? html`<br /><span class="muted">No. ${formatValue(row.customer_number)}</span>`
        : null}
    </th>
    <td><${Badge} value=${linked ? 'linked' : row.state} label=${stateLabel(row.state, sides)} /></td>
    <td>${linked ? html`<span class="muted">—</span>` : html`<${Candidates} row=${row} known=${known}
      onLink=${onLink} />`}</td>
    <td class="row-actions">
      ${linked
        ? html`<a href=${recordHref(row.record_id)} aria-label=${`Compare ${name}`}>Compare</a>
            <${UnlinkControl} row=${row} onUnlink=${onUnlink} onError=${onError} />`
        : target
          ? html`<${ActionButton} label=${`Create ${name} in ${target.vendor}`} action=${() => onCreate(row, target)}
              onDone=${(error) => { if (error) onError(error); }}>Create in ${target.vendor}<//>`
          : null}
    </td>
  </tr>`;
}

function PlanCounts({ plan, sides }) {
  const per = (counts) => Object.entries(counts || {});
  const label = (connId) => {
    const conn = sides.byId[connId];
    return conn ? `${conn.vendor} (${connId})` : connId;
  };
  return html`<dl class="counts plan">
    <div><dt>Links</dt><dd data-plan="links">${plan.links}</dd></div>
    ${per(plan.creates).map(([conn, n]) => html`<div key=${`c-${conn}`}><dt>Creates in ${label(conn)}</dt>
      <dd data-plan=${`creates-${conn}`}>${n}</dd></div>`)}
    ${per(plan.updates).map(([conn, n]) => html`<div key=${`u-${conn}`}><dt>Updates in ${label(conn)}</dt>
      <dd data-plan=${`updates-${conn}`}>${n}</dd></div>`)}
    <div><dt>Unchanged</dt><dd data-plan="unchanged">${plan.unchanged}</dd></div>
  </dl>`;
}

function percent(job) {
  const settled = (job.done || 0) + (job.failed || 0);
  if (!job.total) return 100;
  return Math.min(100, Math.floor((settled * 100) / job.total));
}

function Transfer({ sides, onFinished }) {
  const [source, setSource] = useState('accounting');
  const [preview, setPreview] = useState(null);
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const startRef = useRef(null);
  const running = !!job && !job.finished;

  useInterval(async () => {
    try {
      const next = await request('transferJob', { params: { job_id: job.job_id } });
      setJob(next);
      if (next.finished) {
        setNotice(`Transfer finished: ${next.done} of ${next.total} done, ${next.failed} failed.`);
        onFinished();
      }
    } catch (err) {
      setError(err);
    }
  }, POLL_MS, running);

  useEffect(() => {
    if (preview && startRef.current) startRef.current.querySelector('button')?.focus();
  }, [preview]);

  const dryRun = async () => {
    setError(null);
    setJob(null);
    const result = await request('transfer', { body: { source, dry_run: true } });
    setPreview({ source, plan: result.plan });
    setNotice(`Dry run: nothing written yet. Review the counts, then start the transfer.`);
  };
  const start = async () => {
    setError(null);
    const result = await request('transfer', { body: { source: preview.source, dry_run: false } });
    setPreview(null);
    setJob({ job_id: result.job.job_id, total: 0, done: 0, failed: 0, finished: false, plan: result.plan });
    setNotice(`Transfer started (${result.job.pages} pages).`);
  };
  const settled = job ? (job.done || 0) + (job.failed || 0) : 0;
  const pct = job ? percent(job) : 0;
  const known = job && (job.total > 0 || job.finished);
  return html`<section class="card transfer" aria-labelledby="transfer-title">
    <h2 id="transfer-title">Transfer all</h2>
    <p class="muted">Links the exact matches and creates every other customer (and its contacts) on the other side.
      A dry run shows the counts first; nothing is written until you start the transfer.</p>
    <fieldset class="sources" disabled=${running}>
      <legend>Transfer from</legend>
      ${['accounting', 'crm'].map((side) => html`<label key=${side} class="choice">
        <input type="radio" name="transfer-source" value=${side} checked=${source === side}
          onChange=${() => { setSource(side); setPreview(null); }} />
        ${vendorOf(sides, side)} (${side === 'crm' ? 'CRM' : 'accounting'})
      </label>`)}
    </fieldset>
    <div class="toolbar">
      <${ActionButton} action=${dryRun} disabled=${running} onDone=${(err) => err && setError(err)}>Dry run<//>
    </div>
    <${ErrorMessage} error=${error} />
    <${Notice} text=${notice} />
    ${preview
      ? html`<div class="preview" aria-label="Dry run result" role="group">
          <h3>Dry run: transfer from ${vendorOf(sides, preview.source)}</h3>
          <${PlanCounts} plan=${preview.plan} sides=${sides} />
          <div class="toolbar" ref=${startRef}>
            <${ActionButton} kind="primary" action=${start} onDone=${(err) => err && setError(err)}>Start transfer<//>
            <button type="button" onClick=${() => setPreview(null)}>Cancel</button>
          </div>
        </div>`
      : null}
    ${job
      ? html`<div class="job" data-job=${job.job_id}>
          <h3>${job.finished ? 'Transfer finished' : 'Transfer running'}</h3>
          <progress id="transfer-progress" aria-label="Transfer progress" max=${known ? job.total || 1 : 1}
            value=${known ? (job.total ? settled : 1) : undefined}></progress>
          <p class="progress-text" aria-live="off">${known ? `${settled} of ${job.total} (${pct} %)` : 'Starting…'}
            ${job.failed ? html` <span class="failed">${job.failed} failed</span>` : null}</p>
        </div>`
      : null}
  </section>`;
}

export function LinkScreen() {
  const config = useLoad('config');
  const sides = sidesOf(config.data);
  const [state, setState] = useState('');
  const [limit, setLimit] = useState(50);
  const [text, setText] = useState('');
  const [list, setList] = useState({ rows: [], cursor: null, loading: true, error: null });
  const [notice, setNotice] = useState('');
  const [actionError, setActionError] = useState(null);
  const latest = useRef(0);

  const load = async ({ want = limit, append = false } = {}) => {
    const call = ++latest.current;
    setList((l) => ({ ...l, loading: true }));
    try {
      const got = await fetchRows(state, limit, want, append ? list.cursor : null);
      if (call !== latest.current) return;
      setList((l) => ({ rows: append ? [...l.rows, ...got.rows] : got.rows, cursor: got.cursor, loading: false, error: null }));
    } catch (error) {
      if (call === latest.current) setList((l) => ({ ...l, loading: false, error }));
    }
  };
  const refresh = () => load({ want: Math.max(limit, list.rows.length) });

  useEffect(() => {
    load();
  }, [state, limit]); // eslint-disable-line

  const known = new Map(list.rows.map((r) => [r.record_id, r]));
  const report = (message) => {
    setActionError(null);
    setNotice(message);
  };
  const onError = (error) => {
    setNotice('');
    setActionError(error);
  };

  const onLink = async (row, candidate, otherName) => {
    const rowIsCrm = row.state === 'crm_only';
    const body = rowIsCrm
      ? { crm_record_id: row.record_id, accounting_record_id: candidate.record_id }
      : { crm_record_id: candidate.record_id, accounting_record_id: row.record_id };
    try {
      await request('link', { body });
      report(`Linked ${nameOf(row)} with ${otherName}.`);
      await refresh();
    } catch (error) {
      onError(error);
    }
  };
  const onUnlink = async (row) => {
    await request('unlink', { params: { record_id: row.record_id } });
    report(`Unlinked ${nameOf(row)}: both sides keep their data, the sync between them has stopped.`);
    await refresh();
  };
  const onCreate = async (row, target) => {
    const result = await request('create', { params: { record_id: row.record_id }, body: { connection_id: target.connection_id } });
    report(result.approved_creates
      ? `Creating ${nameOf(row)} in ${target.vendor}: it shows as linked once the sync has written it.`
      : `${nameOf(row)} was not created in ${target.vendor}.`);
    await refresh();
  };

  const needle = text.trim().toLowerCase();
  const shown = needle
    ? list.rows.filter((r) => [r.name, r.customer_number, r.record_id]
      .some((v) => v !== null && v !== undefined && String(v).toLowerCase().includes(needle)))
    : list.rows;

  const actions = html`<button type="button" onClick=${refresh}>Refresh</button>`;
  return html`<${Page} title="Link customers" actions=${actions}>
    <${ErrorMessage} error=${config.error} />
    <${Notice} text=${notice} />
    <${ErrorMessage} error=${actionError} />
    <div class="toolbar" role="search" aria-label="Filter customers">
      <div class="field">
        <label for="link-state">Show</label>
        <select id="link-state" value=${state} onChange=${(e) => setState(e.target.value)}>
          ${STATES.map(([value, label]) => html`<option key=${value} value=${value}>${label}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="link-text">Filter loaded rows</label>
        <input id="link-text" type="search" value=${text} placeholder="name, number or id"
          onInput=${(e) => setText(e.target.value)} />
      </div>
      <div class="field">
        <label for="link-limit">Rows per page</label>
        <select id="link-limit" value=${String(limit)} onChange=${(e) => setLimit(Number(e.target.value))}>
          ${PAGE_SIZES.map((n) => html`<option key=${n} value=${String(n)}>${n}</option>`)}
        </select>
      </div>
    </div>
    <${ErrorMessage} error=${list.error} />
    <${Loading} loading=${list.loading && list.rows.length === 0} />
    ${!list.loading || list.rows.length
      ? html`<p class="muted" aria-live="polite">${needle
        ? `${shown.length} of ${list.rows.length} loaded customers match.`
        : `${list.rows.length} customers loaded${list.cursor ? ', more available' : ''}.`}</p>`
      : null}
    ${shown.length === 0 && !list.loading
      ? html`<p>${needle || list.rows.length ? 'No customers match the filter.' : 'No customers.'}</p>`
      : null}
    ${shown.length
      ? html`<table class="link-table">
          <caption class="sr-only">Customers of both sides, their link state and candidates</caption>
          <thead><tr>
            <th scope="col">Customer</th><th scope="col">State</th>
            <th scope="col">Candidates on the other side</th><th scope="col">Actions</th>
          </tr></thead>
          <tbody>${shown.map((row) => html`<${Row} key=${row.record_id} row=${row} sides=${sides} known=${known}
            onLink=${onLink} onUnlink=${onUnlink} onCreate=${onCreate} onError=${onError} />`)}</tbody>
        </table>`
      : null}
    ${list.cursor
      ? html`<p><button type="button" onClick=${() => load({ append: true })} disabled=${list.loading}>More</button></p>`
      : null}
    <${Transfer} sides=${sides} onFinished=${refresh} />
  <//>`;
}
