// The console's entry: ask the hub how to sign in, sign in (dev: silently; Entra ID: MSAL redirect), show the app.
import { render } from 'preact';
import { App } from './app.js';
import { devSession } from './auth/dev-session.js';
import { loadSettings } from './settings.js';
import { Failed, SignIn } from './sign-in.js';
import './styles.css';

async function start(root: HTMLElement): Promise<void> {
  const settings = await loadSettings();
  if (settings.mode === 'dev') {
    render(<App session={await devSession()} />, root);
    return;
  }
  // MSAL Browser is most of the console's script: loaded only when the hub signs in with Entra ID.
  const { msalSession } = await import('./auth/msal-session.js');
  const { session, signIn } = await msalSession(settings);
  render(session ? <App session={session} /> : <SignIn onSignIn={() => void signIn()} />, root);
}

const root = document.getElementById('app')!;
// The "Loading…" line index.html shows until the script runs (render keeps what is already in its container).
root.replaceChildren();
start(root).catch((err: unknown) => render(<Failed message={err instanceof Error ? err.message.split('\n')[0]! : 'unknown error'} />, root));
