// "Add a member": a new one-time registration key and the command to run on the new agent's machine.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import { CopyButton } from '../components/copy-button.js';
import { ErrorMessage } from '../components/error-message.js';
import { agentCommand } from './agent-command.js';

export function AddMember({ api, gatewayId, firstMember, freshKey }: { api: Api; gatewayId: string; firstMember: boolean; freshKey?: string }) {
  const [key, setKey] = useState(freshKey);
  const [allow, setAllow] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const issue = async () => {
    setError(undefined);
    try {
      setKey((await api.call<{ registrationKey: string }>('POST', `/v1/gateways/${gatewayId}/registration-keys`)).registrationKey);
    } catch (err) {
      setError(err);
    }
  };
  const command = key ? agentCommand({ hubUrl: location.origin, gatewayId, key, firstMember, allow, name }) : '';
  return (
    <section class="add-member">
      <h4>Add a member</h4>
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
