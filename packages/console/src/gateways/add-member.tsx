// "Add a member": a new one-time registration key and the command to run on the new agent's machine.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import { CopyButton } from '../components/copy-button.js';
import { ErrorMessage } from '../components/error-message.js';
import { agentCommand } from './agent-command.js';

export function AddMember({ api, gatewayId, members, freshKey }: { api: Api; gatewayId: string; members: number; freshKey?: string }) {
  // The key with the member count when it was issued: a member more since means the key is spent.
  const [issued, setIssued] = useState(freshKey ? { key: freshKey, members } : undefined);
  const spent = issued !== undefined && members > issued.members;
  const key = spent ? undefined : issued?.key;
  const firstMember = (issued?.members ?? members) === 0;
  const [allow, setAllow] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const issue = async () => {
    setError(undefined);
    try {
      const r = await api.call<{ registrationKey: string }>('POST', `/v1/gateways/${gatewayId}/registration-keys`);
      setIssued({ key: r.registrationKey, members });
    } catch (err) {
      setError(err);
    }
  };
  const command = key ? agentCommand({ hubUrl: location.origin, gatewayId, key, firstMember, allow, name }) : '';
  return (
    <section class="add-member">
      <h4>Add a member</h4>
      {spent && (
        <p class="note" role="status">
          A member joined with the last key (keys work once).
        </p>
      )}
      {!key && (
        <button type="button" onClick={issue}>
          New registration key
        </button>
      )}
      <ErrorMessage error={error} />
      {key && (
        <div>
          <label>
            URL prefix the agent may call
            <input type="url" value={allow} onInput={(e) => setAllow(e.currentTarget.value)} placeholder="https://intranet.example/" />
          </label>
          <label>
            Member name (optional)
            <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <p class="note">Run on the agent's machine (the key works once, for 24 hours{firstMember ? '' : '; RECOVERY-KEY is the one register printed'}):</p>
          <label>
            Agent command
            <textarea class="agent-command" readOnly rows={3} value={command} />
          </label>
          <CopyButton text={command} label="Copy the agent command" />
        </div>
      )}
    </section>
  );
}
