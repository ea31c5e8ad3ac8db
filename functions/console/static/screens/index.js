// The console's screens and their hash routes ("#/records/cus_..." -> Record with record_id).
import { Health } from './health.js';
import { LinkScreen } from './link.js';
import { Record } from './record.js';
import { Conflicts } from './conflicts.js';
import { Parked } from './parked.js';
import { Deletes } from './deletes.js';
import { Leads } from './leads.js';
import { Drift } from './drift.js';
import { Settings } from './settings.js';

export const SCREENS = [
  { path: 'health', title: 'Health', component: Health, nav: true },
  { path: 'link', title: 'Link customers', component: LinkScreen, nav: true },
  { path: 'conflicts', title: 'Conflicts', component: Conflicts, nav: true },
  { path: 'parked', title: 'Parked writes', component: Parked, nav: true },
  { path: 'deletes', title: 'Deletions', component: Deletes, nav: true },
  { path: 'leads', title: 'Lead conversion', component: Leads, nav: true },
  { path: 'drift', title: 'Drift', component: Drift, nav: true },
  { path: 'settings', title: 'Settings', component: Settings, nav: true },
  { path: 'records/:record_id', title: 'Record', component: Record, nav: false },
];

export function screenFor(route) {
  const [path] = route.split('?');
  const actual = path.split('/').filter(Boolean);
  for (const screen of SCREENS) {
    const pattern = screen.path.split('/');
    if (pattern.length !== actual.length) continue;
    const params = {};
    const ok = pattern.every((segment, i) => {
      if (segment.startsWith(':')) {
        params[segment.slice(1)] = decodeURIComponent(actual[i]);
        return true;
      }
      return segment === actual[i];
    });
    if (ok) return { screen, params };
  }
  return { screen: SCREENS[0], params: {} };
}
