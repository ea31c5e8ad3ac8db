// How a conflict's status and its winning side read to a person (the conflict inbox and the record view).
export const STATUS_LABELS = {
  open: 'open',
  auto: 'settled by rule',
  overridden: 'owner kept',
  resolved: 'resolved',
  restored: 'restored',
};

export const WINNERS = { crm: 'CRM', accounting: 'accounting', value: 'typed value', held: 'held' };
