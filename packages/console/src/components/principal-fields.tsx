// A principal as the hub's roles and shares name it: an Entra ID object id (a GUID) and what it is.
import type { PrincipalType } from '../api/types.js';

export const PRINCIPAL_TYPES: Array<{ value: PrincipalType; label: string }> = [
  { value: 'User', label: 'User' },
  { value: 'Group', label: 'Group' },
  { value: 'ServicePrincipal', label: 'Service principal (an app)' },
];

/** The hub's rule (packages/hub/src/http/principal-input.ts), so a typo is caught before the request. */
export const OBJECT_ID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

export function PrincipalFields({
  idPrefix,
  principalId,
  principalType,
  onId,
  onType,
}: {
  idPrefix: string;
  principalId: string;
  principalType: PrincipalType;
  onId(v: string): void;
  onType(v: PrincipalType): void;
}) {
  return (
    <>
      <div class="field">
        <label for={`${idPrefix}-principal`}>Principal object id</label>
        <input
          id={`${idPrefix}-principal`}
          type="text"
          required
          pattern={OBJECT_ID_PATTERN}
          title="An Entra ID object id: 8-4-4-4-12 hexadecimal digits"
          size={38}
          autoComplete="off"
          spellcheck={false}
          value={principalId}
          onInput={(e) => onId(e.currentTarget.value.trim())}
          placeholder="00000000-0000-0000-0000-000000000000"
        />
      </div>
      <div class="field">
        <label for={`${idPrefix}-type`}>Principal type</label>
        <select id={`${idPrefix}-type`} value={principalType} onChange={(e) => onType(e.currentTarget.value as PrincipalType)}>
          {PRINCIPAL_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
      </div>
    </>
  );
}
