// The console's shell: sign-in with the tenant id and its API token, navigation, hash routes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentSession, endSession, request, SESSION_EVENT, startSession } from './api.js';
import { ErrorMessage, html } from './ui.js';
import { SCREENS, screenFor } from './screens/index.js';

function SignIn() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const session = { tenant: String(form.get('tenant')).trim(), token: String(form.get('token')).trim() };
    setBusy(true);
    setError(null);
    try {
      await request('health', { session }); // proves the token is this tenant's before keeping it
      startSession(session.tenant, session.token);
      if (!location.hash) location.hash = '#/health';
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <h1>crmsync console</h1>
    <p>Sign in with your tenant id and an API token of that tenant. The token stays in this tab only.</p>
    <form onSubmit=${submit}>
      <label for="tenant">Tenant id</label>
      <input id="tenant" name="tenant" required autocomplete="username" pattern="[a-z0-9][a-z0-9-]{0,39}" />
      <label for="token">API token</label>
      <input id="token" name="token" type="password" required autocomplete="current-password" />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
    <${ErrorMessage} error=${error} />
  </main>`;
}

function currentRoute() {
  return location.hash.replace(/^#\/?/, '') || 'health';
}

function Shell({ session }) {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const { screen, params } = screenFor(route);
  const Screen = screen.component;
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand">crmsync</span>
      <span class="tenant">Tenant <strong>${session.tenant}</strong></span>
      <button type="button" onClick=${endSession}>Sign out</button>
    </header>
    <nav aria-label="Screens">
      <ul>
        ${SCREENS.filter((s) => s.nav).map((s) => html`<li key=${s.path}>
          <a href=${`#/${s.path}`} aria-current=${screen === s ? 'page' : undefined}>${s.title}</a>
        </li>`)}
      </ul>
    </nav>
    <main id="main" tabindex="-1"><${Screen} key=${route} ...${params} /></main>
  </div>`;
}

function App() {
  const [session, setSession] = useState(currentSession());
  useEffect(() => {
    const onChange = () => setSession(currentSession());
    window.addEventListener(SESSION_EVENT, onChange);
    return () => window.removeEventListener(SESSION_EVENT, onChange);
  }, []);
  return session ? html`<${Shell} session=${session} />` : html`<${SignIn} />`;
}

const root = document.getElementById('root');
root.replaceChildren(); // the static "Loading" line
render(html`<${App} />`, root);
