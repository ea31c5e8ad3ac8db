// Lead conversion: a person enters a CRM lead (a HubSpot company or contact id, or a Dynamics lead id),
// sees the options (the duplicate search's candidates with their score bands) and converts it: merge
// into a candidate (its number is kept), create a new customer, or add the person to the walk-in
// customer. A lead whose company already carries a customer number converts onto that customer at once.
// Every conversion happens exactly once per lead; the result shows the customer number written back.
import { useState } from 'preact/hooks';
import { request } from '../api.js';
import {
  ActionButton, Badge, ErrorMessage, formatValue, html, Loading, Notice, Page, reasonText, recordHref, useLoad,
} from '../ui.js';

const LEAD_ID = '([0-9]{1,20}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})';

function crmOf(config) {
  const conn = (config?.connections || []).find((c) => c.kind === 'hubspot' || c.kind === 'dynamics');
  return conn ? conn.kind : null;
}

function outcomeText(result) {
  const number = result.customer_number || '—';
  switch (result.outcome) {
    case 'existing_number': return `Converted onto customer ${number}, the number the lead's company already carried.`;
    case 'merged': return `Converted: merged into customer ${number}; its number is written back to the lead's company.`;
    case 'created': return `Converted: new customer ${number} created; its number is written back to the lead's company.`;
    case 'walk_in': return `Converted: the person was added to the walk-in customer ${number}.`;
    default: return `Converted (${result.outcome}).`;
  }
}

function Warnings({ warnings }) {
  if (!warnings || warnings.length === 0) return null;
  return html`<ul class="lead-warnings" aria-label="Warnings">${warnings.map((w) => html`<li key=${w}>${w}</li>`)}</ul>`;
}

function Candidate({ candidate, convert }) {
  const { data, error } = useLoad('record', { params: { record_id: candidate.record_id } }, candidate.record_id);
  const fields = data ? data.fields : {};
  const name = fields.name || candidate.record_id;
  return html`<tr data-candidate=${candidate.record_id}>
    <td><a href=${recordHref(candidate.record_id)}>${name}</a>
      ${error ? html`<div class="muted">${candidate.record_id}</div>` : null}</td>
    <td>${formatValue(fields.customer_number)}</td>
    <td>${formatValue([fields.zip, fields.city].filter(Boolean).join(' '))}</td>
    <td><${Badge} value=${candidate.band} /> <span class="muted">score ${Number(candidate.score).toFixed(2)}</span></td>
    <td>${(candidate.reasons || []).length
      ? html`<ul class="plain lead-reasons">${candidate.reasons.map((r) => html`<li key=${r}>${reasonText(r)}</li>`)}</ul>`
      : '—'}</td>
    <td><${ActionButton} label=${`Merge the lead into ${name}`}
      action=${() => convert({ action: 'merge_into', candidate_record_id: candidate.record_id })}>Merge into<//></td>
  </tr>`;
}

function Options({ found, walkIn, convert }) {
  return html`<section aria-labelledby="lead-options" class="lead-options">
    <h2 id="lead-options">Options</h2>
    <${Warnings} warnings=${found.warnings} />
    <h3>Existing customers that may be the same</h3>
    ${found.candidates.length === 0
      ? html`<p>No candidates.</p>`
      : html`<table class="lead-candidates">
          <caption class="sr-only">Candidates, best match first</caption>
          <thead><tr>
            <th scope="col">Customer</th><th scope="col">Customer number</th><th scope="col">Place</th>
            <th scope="col">Match</th><th scope="col">Why</th><th scope="col"><span class="sr-only">Actions</span></th>
          </tr></thead>
          <tbody>${found.candidates.map((c) => html`<${Candidate} key=${c.record_id} candidate=${c} convert=${convert} />`)}</tbody>
        </table>`}
    <h3>Or</h3>
    <div class="toolbar">
      <${ActionButton} kind="primary" action=${() => convert({ action: 'create_new' })}>Create a new customer<//>
      <${ActionButton} disabled=${!walkIn} action=${() => convert({ action: 'walk_in' })}
        label=${walkIn ? `Walk-in customer ${walkIn}` : 'Walk-in customer (none configured)'}>Walk-in customer${walkIn ? ` ${walkIn}` : ''}<//>
    </div>
    ${walkIn ? null : html`<p class="muted">No walk-in customer is configured (Settings: walk-in customer number).</p>`}
  </section>`;
}

function Result({ result }) {
  return html`<section aria-labelledby="lead-result" class="card lead-result">
    <h2 id="lead-result">Converted</h2>
    <p>${outcomeText(result)}</p>
    <dl class="facts">
      <dt>Customer number</dt><dd data-customer-number>${formatValue(result.customer_number)}</dd>
      <dt>Customer</dt><dd>${result.record_id ? html`<a href=${recordHref(result.record_id)}>${result.record_id}</a>` : '—'}</dd>
      <dt>Contact persons linked</dt><dd>${result.contacts_linked}</dd>
    </dl>
    <${Warnings} warnings=${result.warnings} />
  </section>`;
}

export function Leads() {
  const config = useLoad('config');
  const crm = crmOf(config.data);
  const [leadId, setLeadId] = useState('');
  const [objectType, setObjectType] = useState('company');
  const [found, setFound] = useState(null); // { lead, objectType, answer } of the last search
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const kind = crm === 'dynamics' ? 'lead' : objectType;

  const search = async (event) => {
    event.preventDefault();
    const lead = leadId.trim();
    setBusy(true);
    setError(null);
    setNotice('');
    setFound(null);
    setResult(null);
    try {
      const answer = await request('convertLead', { params: { lead_id: lead }, body: { object_type: kind } });
      if (answer.status === 'converted') {
        setResult(answer);
        setNotice(outcomeText(answer));
      } else {
        setFound({ lead, objectType: kind, answer });
        const n = answer.candidates.length;
        setNotice(`${n} candidate${n === 1 ? '' : 's'} for lead ${lead}.`);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const convert = async (choice) => {
    setError(null);
    try {
      const answer = await request('convertLead', {
        params: { lead_id: found.lead }, body: { object_type: found.objectType, ...choice },
      });
      setResult(answer);
      setFound(null);
      setNotice(outcomeText(answer));
    } catch (err) {
      setError(err);
    }
  };

  return html`<${Page} title="Lead conversion">
    <p class="muted">Turn a CRM lead into a customer, once. Look the lead up to see the customers it may
      duplicate, then merge it into one, create a new customer, or add the person to the walk-in customer.
      A lead whose company already carries a customer number is converted onto that customer when looked up.</p>
    <${ErrorMessage} error=${config.error} />
    <${Loading} loading=${config.loading && !config.data} />
    <form class="toolbar lead-form" onSubmit=${search}>
      <div class="field">
        <label for="lead-id">CRM lead id</label>
        <input id="lead-id" name="lead_id" required pattern=${LEAD_ID} value=${leadId}
          aria-describedby="lead-id-help" onInput=${(e) => setLeadId(e.target.value)} />
        <span id="lead-id-help" class="muted">${crm === 'dynamics'
          ? 'the Dynamics 365 lead id (a GUID)'
          : 'the HubSpot company or contact id (digits)'}</span>
      </div>
      ${crm === 'dynamics' ? null : html`<fieldset class="lead-kind">
        <legend>The lead is a</legend>
        ${[['company', 'Company'], ['contact', 'Contact']].map(([value, label]) => html`<label key=${value}>
          <input type="radio" name="object_type" value=${value} checked=${objectType === value}
            onChange=${() => setObjectType(value)} /> ${label}
        </label>`)}
      </fieldset>`}
      <button type="submit" class="primary" disabled=${busy} aria-busy=${busy ? 'true' : 'false'}>Find options</button>
    </form>
    <${Notice} text=${notice} />
    <${ErrorMessage} error=${error} />
    ${found ? html`<${Options} found=${found.answer} walkIn=${config.data?.walk_in_customer_number} convert=${convert} />` : null}
    ${result ? html`<${Result} result=${result} />` : null}
  <//>`;
}
