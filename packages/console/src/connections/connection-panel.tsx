// A connection's shares and audit list, for its owner.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { Connection, GatewayRole } from '../api/types.js';
import { AuditList } from '../teams/audit-list.js';
import { maySharePer, SharesEditor } from '../teams/shares-editor.js';

export function ConnectionPanel({ api, c, gatewayName, gatewayRole }: { api: Api; c: Connection; gatewayName?: string; gatewayRole?: GatewayRole }) {
  const [changes, setChanges] = useState(0);
  return (
    <div class="panel-body">
      <h4>Shares of {c.displayName}</h4>
      <SharesEditor
        api={api}
        connectionId={c.id}
        connectionName={c.displayName}
        gatewayName={gatewayName}
        mayShare={maySharePer(c.gatewayId, gatewayRole)}
        gatewayRole={gatewayRole}
        onChanged={() => setChanges((n) => n + 1)}
      />
      <h4>Audit of {c.displayName}</h4>
      <AuditList api={api} path={`/v1/connections/${c.id}/audit`} caption={`Changes to ${c.displayName}`} refresh={changes} />
    </div>
  );
}
