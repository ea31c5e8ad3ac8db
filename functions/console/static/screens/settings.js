// Tenant settings: the sync mode (a switch goes through its dry run, then a confirm), the connections
// (no secrets: the config holds none, tokens live in the secret store), the field policy (per object
// type and field: direction and conflict rule, saved with the version read) and the value maps (CRM
// value -> accounting value per picklist field; each pair added or removed is saved at once).
// Every save is PUT /config with the version last read: a stale version (409) offers a reload.
import { useEffect, useState } from 'preact/hooks';
import { request } from '../api.js';
import { Badge, ErrorMessage, formatValue, html, Loading, Notice, Page, useLoad } from '../ui.js';

// crmsync.models.FIELDS_BY_TYPE (a field missing from the policy does not sync: direction none).
const FIELDS = {
  customer: ['name', 'customer_number', 'corporate_id', 'vat_number', 'email', 'phone', 'website', 'address',
    'zip', 'city', 'country', 'currency', 'customer_group', 'payment_terms', 'vat_zone', 'barred',
    'external_number', 'account_manager', 'lifecycle_stage', 'parent_account'],
  contact: ['name', 'email', 'phone', 'title', 'notes', 'customer', 'lifecycle_stage'],
};
const OBJECT_TYPES = [['customer', 'Customers'], ['contact', 'Contacts']];
// crmsync.policy.Direction and ConflictRule.
const DIRECTIONS = [
  ['both', 'Both ways'],
  ['to_accounting', 'CRM → accounting'],
  ['to_crm', 'Accounting → CRM'],
  ['none', 'Not synced'],
];
const RULES = [
  ['latest', 'Latest change wins'],
  ['crm_wins', 'CRM wins'],
  ['accounting_wins', 'Accounting wins'],
  ['manual', 'A person decides'],
];
const MODES = [
  ['off', 'Off: nothing syncs'],
  ['manual', 'Manual: linked records sync, nothing is created'],
  ['automatic', 'Automatic: missing records are created on the other side'],
];
// crmsync.value_maps.MAPPABLE_FIELDS.
const MAPPABLE = ['account_manager', 'currency', 'customer_group', 'payment_terms', 'vat_zone'];
const NONE_RULE = { direction: 'none', rule: 'latest' };

const label = (pairs, value) => (pairs.find(([v]) => v === value) || [value, value])[1];
const human = (name) => name.replaceAll('_', ' ');

function putConfig(config, changes) {
  return request('putConfig', { body: { ...config, ...changes } });
}

// An API error next to the form that caused it; a stale version (409) offers to read the config again.
function SaveError({ error, onReload }) {
  if (!error) return null;
  return html`<div class="save-error">
    <${ErrorMessage} error=${error} />
    ${error.status === 409
      ? html`<button type="button" onClick=${onReload}>Reload the settings</button>
          <span class="muted">Someone changed them since you read them; reloading discards the unsaved edits here.</span>`
      : null}
  </div>`;
}

function PlanTable({ plan }) {
  const sides = Object.entries(plan);
  const counts = (byConn) => {
    const entries = Object.entries(byConn || {});
    return entries.length ? entries.map(([conn, n]) => `${n} ${n === 1 ? 'record' : 'records'} in ${conn}`).join(', ') : '0';
  };
  return html`<table class="plan">
    <caption>What the switch would do (customers and contacts), per side the records come from</caption>
    <thead><tr><th scope="col">From</th><th scope="col">Creates</th><th scope="col">Updates</th>
      <th scope="col">Links (exact key)</th><th scope="col">Unchanged</th></tr></thead>
    <tbody>${sides.map(([side, p]) => html`<tr key=${side}>
      <th scope="row">${side === 'crm' ? 'CRM' : 'Accounting'}</th>
      <td data-plan=${`${side}-creates`}>${counts(p.creates)}</td>
      <td>${counts(p.updates)}</td><td>${p.links}</td><td>${p.unchanged}</td>
    </tr>`)}</tbody>
  </table>`;
}

function ModeSection({ config, onChanged, onFailed }) {
  const [target, setTarget] = useState(config.sync_mode === 'automatic' ? 'manual' : 'automatic');
  const [dryRun, setDryRun] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const choose = (event) => {
    setTarget(event.target.value);
    setDryRun(null);
    setError(null);
  };
  const check = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setDryRun(await request('mode', { body: { mode: target, dry_run: true } }));
    } catch (err) {
      setError(err);
      onFailed();
    } finally {
      setBusy(false);
    }
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const done = await request('mode', { body: { mode: dryRun.mode, dry_run: false } });
      const jobs = Object.values(done.jobs || {});
      const pages = jobs.reduce((sum, j) => sum + j.pages, 0);
      setDryRun(null);
      const queued = jobs.length ? ` ${pages} ${pages === 1 ? 'page' : 'pages'} of work queued.` : '';
      onChanged(`Sync mode is now ${done.mode}.${queued}`);
    } catch (err) {
      setError(err);
      onFailed();
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="mode-title" class="settings-section">
    <h2 id="mode-title">Sync mode</h2>
    <p>Current mode: <${Badge} value=${config.sync_mode} /> <span class="muted">${label(MODES, config.sync_mode)}</span></p>
    <form class="toolbar" onSubmit=${check}>
      <div class="field">
        <label for="mode-target">New sync mode</label>
        <select id="mode-target" value=${target} onChange=${choose}>
          ${MODES.map(([value, text]) => html`<option key=${value} value=${value}>${text}</option>`)}
        </select>
      </div>
      <button type="submit" disabled=${busy || target === config.sync_mode}>Check the change (dry run)</button>
    </form>
    ${target === config.sync_mode ? html`<p class="muted">The tenant is already in this mode.</p>` : null}
    ${dryRun ? html`<div class="card dry-run" role="region" aria-labelledby="dry-run-title">
      <h3 id="dry-run-title">Dry run: switch from ${config.sync_mode} to ${dryRun.mode}</h3>
      ${dryRun.plan
        ? html`<${PlanTable} plan=${dryRun.plan} />`
        : html`<p>No records are created or changed by this switch: only the mode changes.</p>`}
      <div class="toolbar">
        <button type="button" class="primary" onClick=${confirm} disabled=${busy}>Confirm: switch to ${dryRun.mode}</button>
        <button type="button" onClick=${() => setDryRun(null)} disabled=${busy}>Cancel</button>
      </div>
    </div>` : null}
    <${ErrorMessage} error=${error} />
  </section>`;
}

function ConnectionSettings({ conn }) {
  const facts = [];
  if (conn.accounting_defaults) {
    const d = conn.accounting_defaults;
    facts.push(['New customers get', `customer group ${d.customer_group}, payment terms ${d.payment_terms}, VAT zone ${d.vat_zone}, currency ${d.currency}${d.layout ? `, layout ${d.layout}` : ''}`]);
  }
  if (conn.hubspot_portal_id) facts.push(['HubSpot portal', String(conn.hubspot_portal_id)]);
  if (conn.dynamics) facts.push(['Organisation', conn.dynamics.org_url]);
  if (conn.rate_budget) {
    const r = conn.rate_budget;
    facts.push(['Rate budget', `${r.calls_per_window} calls / ${r.window_seconds} s, ${r.calls_per_day.toLocaleString()} a day`]);
  }
  return facts.length
    ? html`<ul class="plain">${facts.map(([k, v]) => html`<li key=${k}>${k}: ${v}</li>`)}</ul>`
    : html`<span class="muted">Defaults</span>`;
}

function Connections({ config }) {
  return html`<section aria-labelledby="connections-title" class="settings-section">
    <h2 id="connections-title">Connections</h2>
    <p class="muted">Environment ${config.environment}. Credentials (API tokens, secrets) stay in the secret store and are never shown here.</p>
    ${config.connections.length === 0
      ? html`<p>No connections.</p>`
      : html`<table>
          <caption class="sr-only">The tenant's connections</caption>
          <thead><tr><th scope="col">Connection</th><th scope="col">Kind</th><th scope="col">Settings</th></tr></thead>
          <tbody>${config.connections.map((c) => html`<tr key=${c.connection_id}>
            <th scope="row">${c.connection_id}</th><td>${c.kind}</td><td><${ConnectionSettings} conn=${c} /></td>
          </tr>`)}</tbody>
        </table>`}
    <dl class="facts">
      <dt>Transfer timing</dt><dd>${human(config.transfer_timing)}</dd>
      <dt>Deletions</dt><dd>${config.deletes}</dd>
      <dt>Link exact matches automatically</dt><dd>${config.auto_link_exact ? 'yes' : 'no'}</dd>
      <dt>Drift report</dt><dd>${config.drift_hours ? `every ${config.drift_hours} hours` : 'on demand only'}</dd>
      <dt>Config version</dt><dd data-config-version>${config.version}</dd>
    </dl>
  </section>`;
}

function PolicyTable({ type, title, policy, edits, onEdit }) {
  const rules = policy[type] || {};
  const fields = [...FIELDS[type], ...Object.keys(rules).filter((f) => !FIELDS[type].includes(f))];
  return html`<table class="policy">
    <caption>${title}</caption>
    <thead><tr><th scope="col">Field</th><th scope="col">Direction</th><th scope="col">Conflict rule</th></tr></thead>
    <tbody>${fields.map((field) => {
      const key = `${type}.${field}`;
      const rule = edits[key] || rules[field] || NONE_RULE;
      const id = `policy-${type}-${field}`;
      const set = (part) => (event) => onEdit(key, { ...rule, [part]: event.target.value });
      return html`<tr key=${key} class=${edits[key] ? 'edited' : ''}>
        <th scope="row">${human(field)}${edits[key] ? html` <span class="badge warn">unsaved</span>` : null}</th>
        <td>
          <label class="sr-only" for=${`${id}-direction`}>Direction of ${type} ${human(field)}</label>
          <select id=${`${id}-direction`} value=${rule.direction} onChange=${set('direction')}>
            ${DIRECTIONS.map(([v, t]) => html`<option key=${v} value=${v}>${t}</option>`)}
          </select>
        </td>
        <td>
          <label class="sr-only" for=${`${id}-rule`}>Conflict rule of ${type} ${human(field)}</label>
          <select id=${`${id}-rule`} value=${rule.rule} onChange=${set('rule')}>
            ${RULES.map(([v, t]) => html`<option key=${v} value=${v}>${t}</option>`)}
          </select>
        </td>
      </tr>`;
    })}</tbody>
  </table>`;
}

function PolicyEditor({ config, onSaved, onFailed, onReload }) {
  const [edits, setEdits] = useState({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const onEdit = (key, rule) => {
    const [type, field] = key.split('.');
    const saved = config.field_policy[type]?.[field] || NONE_RULE;
    setEdits((e) => {
      const next = { ...e };
      if (saved.direction === rule.direction && saved.rule === rule.rule) delete next[key];
      else next[key] = rule;
      return next;
    });
  };
  const count = Object.keys(edits).length;
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const policy = { customer: { ...config.field_policy.customer }, contact: { ...config.field_policy.contact } };
    for (const [key, rule] of Object.entries(edits)) {
      const [type, field] = key.split('.');
      policy[type][field] = rule;
    }
    try {
      const saved = await putConfig(config, { field_policy: policy });
      setEdits({});
      onSaved(saved, `Field policy saved (${count} ${count === 1 ? 'field' : 'fields'} changed).`);
    } catch (err) {
      setError(err);
      onFailed();
    } finally {
      setBusy(false);
    }
  };
  const reload = () => {
    setEdits({});
    setError(null);
    onReload();
  };
  return html`<section aria-labelledby="policy-title" class="settings-section">
    <h2 id="policy-title">Field policy</h2>
    <p class="muted">Per field: which way its values flow once a record is linked, and who wins when both sides changed it.</p>
    <form onSubmit=${save} aria-labelledby="policy-title">
      <div class="policy-tables">
        ${OBJECT_TYPES.map(([type, title]) => html`<${PolicyTable} key=${type} type=${type} title=${title}
          policy=${config.field_policy} edits=${edits} onEdit=${onEdit} />`)}
      </div>
      <div class="toolbar policy-save">
        <button type="submit" class="primary" disabled=${busy || count === 0}>Save field policy</button>
        <button type="button" onClick=${() => setEdits({})} disabled=${busy || count === 0}>Discard changes</button>
        <span class="muted" aria-live="polite">${count ? `${count} unsaved ${count === 1 ? 'change' : 'changes'}` : 'No unsaved changes'}</span>
      </div>
      <${SaveError} error=${error} onReload=${reload} />
    </form>
  </section>`;
}

function ValueMaps({ config, onSaved, onFailed, onReload }) {
  const [field, setField] = useState('customer_group');
  const [crm, setCrm] = useState('');
  const [accounting, setAccounting] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const maps = config.value_maps || {};
  const saveMaps = async (next, message) => {
    setBusy(true);
    setError(null);
    try {
      const saved = await putConfig(config, { value_maps: next });
      onSaved(saved, message);
      return true;
    } catch (err) {
      setError(err);
      onFailed();
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (event) => {
    event.preventDefault();
    const pairs = maps[field]?.pairs || {};
    if (Object.prototype.hasOwnProperty.call(pairs, crm.trim())) {
      setError(new Error(`${human(field)}: the CRM value "${crm.trim()}" is mapped already; remove that pair first`));
      onFailed();
      return;
    }
    const next = { ...maps, [field]: { pairs: { ...pairs, [crm]: accounting } } };
    if (await saveMaps(next, `Added ${human(field)}: ${crm.trim()} → ${accounting.trim()}.`)) {
      setCrm('');
      setAccounting('');
    }
  };
  const remove = (name, key) => {
    const pairs = { ...maps[name].pairs };
    const was = pairs[key];
    delete pairs[key];
    const next = { ...maps };
    if (Object.keys(pairs).length) next[name] = { pairs };
    else delete next[name];
    saveMaps(next, `Removed ${human(name)}: ${key} → ${was}.`);
  };
  const reload = () => {
    setError(null);
    onReload();
  };
  const fields = [...MAPPABLE, ...Object.keys(maps).filter((f) => !MAPPABLE.includes(f))];
  return html`<section aria-labelledby="maps-title" class="settings-section">
    <h2 id="maps-title">Value maps</h2>
    <p class="muted">Picklist fields: a CRM value and the accounting value it stands for. A value without a pair is never
      guessed: that field is held until a pair is added. Account-manager pairs found by name (refresh on the account
      managers) are not listed here.</p>
    <div class="cards">
      ${fields.map((name) => {
        const pairs = Object.entries(maps[name]?.pairs || {});
        return html`<article key=${name} class="card value-map" aria-labelledby=${`map-${name}`}>
          <h3 id=${`map-${name}`}>${human(name)}</h3>
          ${pairs.length === 0
            ? html`<p class="muted">No pairs.</p>`
            : html`<table>
                <caption class="sr-only">Pairs of ${human(name)}</caption>
                <thead><tr><th scope="col">CRM value</th><th scope="col">Accounting value</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                <tbody>${pairs.map(([k, v]) => html`<tr key=${k}>
                  <td>${formatValue(k)}</td><td>${formatValue(v)}</td>
                  <td><button type="button" class="danger" disabled=${busy} onClick=${() => remove(name, k)}
                    aria-label=${`Remove ${human(name)} pair ${k} to ${v}`}>Remove</button></td>
                </tr>`)}</tbody>
              </table>`}
        </article>`;
      })}
    </div>
    <form class="toolbar" onSubmit=${add} aria-label="Add a value-map pair">
      <div class="field">
        <label for="map-field">Field</label>
        <select id="map-field" value=${field} onChange=${(e) => setField(e.target.value)}>
          ${MAPPABLE.map((f) => html`<option key=${f} value=${f}>${human(f)}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="map-crm">CRM value</label>
        <input id="map-crm" required value=${crm} onInput=${(e) => setCrm(e.target.value)} />
      </div>
      <div class="field">
        <label for="map-accounting">Accounting value</label>
        <input id="map-accounting" required value=${accounting} onInput=${(e) => setAccounting(e.target.value)} />
      </div>
      <button type="submit" disabled=${busy}>Add pair</button>
    </form>
    <${SaveError} error=${error} onReload=${reload} />
  </section>`;
}

export function Settings() {
  const { data, error, loading, reload } = useLoad('config');
  const [config, setConfig] = useState(null);
  const [notice, setNotice] = useState('');
  useEffect(() => {
    if (data) setConfig(data);
  }, [data]);
  const onSaved = (saved, message) => {
    setConfig(saved);
    setNotice(message);
  };
  const onModeChanged = (message) => {
    setNotice(message);
    reload();
  };
  const onFailed = () => setNotice('');
  const onReload = () => {
    setNotice('');
    reload();
  };
  const actions = html`<button type="button" onClick=${onReload}>Reload</button>`;
  return html`<${Page} title="Settings" actions=${actions}>
    <${ErrorMessage} error=${error} />
    <${Loading} loading=${loading && !config} />
    <${Notice} text=${notice} />
    ${config ? html`
      <${ModeSection} key=${`mode-${config.sync_mode}`} config=${config} onChanged=${onModeChanged} onFailed=${onFailed} />
      <${Connections} config=${config} />
      <${PolicyEditor} key=${`policy-${data ? data.version : 0}`} config=${config} onSaved=${onSaved} onFailed=${onFailed} onReload=${onReload} />
      <${ValueMaps} config=${config} onSaved=${onSaved} onFailed=${onFailed} onReload=${onReload} />
    ` : null}
  <//>`;
}
