// A new connection: one form, the fields each authType needs. The password field is write-only (never read back).
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { AuthType, Gateway } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { sealedCredentials } from './credentials.js';

const TYPES: Array<{ value: AuthType; label: string }> = [
  { value: 'BasicGateway', label: 'Basic, through a gateway' },
  { value: 'WindowsGateway', label: 'Windows (NTLM or Kerberos), through a gateway' },
  { value: 'AnonymousGateway', label: 'Anonymous, through a gateway' },
  { value: 'EntraAuth', label: 'Microsoft Entra ID (On-Behalf-Of)' },
];

export function ConnectionForm({ api, gateways, onCreated }: { api: Api; gateways: Gateway[]; onCreated(): void }) {
  const [authType, setAuthType] = useState<AuthType>('BasicGateway');
  const [f, setF] = useState({ displayName: '', baseResourceUrl: '', resourceUri: '', gatewayId: '', username: '', password: '' });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const viaGateway = authType !== 'EntraAuth';
  const withSecret = authType === 'BasicGateway' || authType === 'WindowsGateway';
  const gatewayId = f.gatewayId || gateways[0]?.id || '';
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const body: Record<string, unknown> = { authType, displayName: f.displayName, baseResourceUrl: f.baseResourceUrl };
      if (authType === 'EntraAuth') body.resourceUri = f.resourceUri;
      if (viaGateway) body.gatewayId = gatewayId;
      if (withSecret) Object.assign(body, await sealedCredentials(api, gatewayId, authType, f.username, f.password));
      await api.call('POST', '/v1/connections', body);
      setF({ ...f, displayName: '', username: '', password: '' });
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="stack" onSubmit={submit} aria-labelledby="new-connection">
      <h3 id="new-connection">New connection</h3>
      <div class="field">
        <label for="connection-type">Type</label>
        <select id="connection-type" value={authType} onChange={(e) => setAuthType(e.currentTarget.value as AuthType)}>
          {TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
      </div>
      <label>
        Display name
        <input type="text" required maxLength={256} value={f.displayName} onInput={set('displayName')} />
      </label>
      <label>
        Base URL
        <input type="url" required value={f.baseResourceUrl} onInput={set('baseResourceUrl')} placeholder="https://intranet.example/api" />
      </label>
      {authType === 'EntraAuth' && (
        <label>
          Resource URI
          <input type="text" required value={f.resourceUri} onInput={set('resourceUri')} placeholder="https://graph.microsoft.com" />
        </label>
      )}
      {viaGateway && (
        <div class="field">
          <label for="connection-gateway">Gateway</label>
          <select id="connection-gateway" required value={gatewayId} onChange={set('gatewayId')}>
            {gateways.map((g) => (
              <option key={g.id} value={g.id}>
                {g.name} ({g.status})
              </option>
            ))}
          </select>
        </div>
      )}
      {withSecret && (
        <>
          <label>
            User name
            <input
              type="text"
              required
              autoComplete="off"
              value={f.username}
              onInput={set('username')}
              placeholder={authType === 'WindowsGateway' ? 'DOMAIN\\user' : ''}
            />
          </label>
          <label>
            Password
            <input type="password" required autoComplete="new-password" value={f.password} onInput={set('password')} />
          </label>
          <p class="note">
            Sealed in this browser to the gateway's key before it is sent: only the gateway's agents can read it. Write-only: never shown again.
          </p>
        </>
      )}
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy}>
        Create connection
      </button>
    </form>
  );
}
