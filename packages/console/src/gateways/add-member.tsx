// "Add a member": a new one-time registration key and the command to run on the new agent's machine: `register`
// while the gateway has no key pair, `join` with the recovery key once it has one (agent-command.ts).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api/client.js';
import { CopyButton } from '../components/copy-button.js';
import { ErrorMessage } from '../components/error-message.js';
import { agentCommand, RECOVERY_PLACEHOLDER } from './agent-command.js';

/** Whether the gateway has its key pair: its public key answers (NotFound "no public key yet" otherwise). */
async function hasKeyPair(api: Api, gatewayId: string): Promise<boolean> {
  try {
    await api.call('GET', `/v1/gateways/${gatewayId}/public-key`);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NotFound') return false;
    throw err;
  }
}

export function AddMember({
  api,
  gatewayId,
  members,
  freshKey,
  onIssued,
}: {
  api: Api;
  gatewayId: string;
  members: number;
  freshKey?: string;
  onIssued(): void;
}) {
  // The key with the member count when it was issued: a member more since means the key is spent, and stays so
  // (a member removed afterwards does not bring it back). A gateway just created has no key pair: its first member
  // registers.
  const [issued, setIssued] = useState(freshKey ? { key: freshKey, members, join: false, spent: false } : undefined);
  useEffect(() => {
    if (issued && !issued.spent && members > issued.members) setIssued({ ...issued, spent: true });
  }, [members, issued]);
  const spent = issued?.spent === true || (issued !== undefined && members > issued.members);
  const key = spent ? undefined : issued?.key;
  const [allow, setAllow] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const issue = async () => {
    setError(undefined);
    try {
      const r = await api.call<{ registrationKey: string }>('POST', `/v1/gateways/${gatewayId}/registration-keys`);
      onIssued();
      setIssued({ key: r.registrationKey, members, join: await hasKeyPair(api, gatewayId), spent: false });
    } catch (err) {
      setError(err);
    }
  };
  const join = issued?.join === true;
  const command = key ? agentCommand({ hubUrl: location.origin, gatewayId, key, join, allow, name }) : '';
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
          {join ? (
            <p class="note">
              This gateway has its key pair, so the new member joins it (even when every member has been removed): replace <code>{RECOVERY_PLACEHOLDER}</code>{' '}
              with the recovery key that <code>gatehouse-agent register</code> printed when the gateway's first member was made (or the one given to it with{' '}
              <code>--recovery-key</code>). <code>join</code> opens the gateway key with it and refuses a wrong one before anything is registered; the hub
              cannot recover it. Run on the agent's machine (the registration key works once, for 24 hours):
            </p>
          ) : (
            <p class="note">
              The gateway's first member: <code>register</code> makes the gateway's key pair and prints a recovery key once. Keep it: adding members later (
              <code>gatehouse-agent join</code>) needs it. Run on the agent's machine (the key works once, for 24 hours):
            </p>
          )}
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
