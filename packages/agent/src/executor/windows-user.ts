// The user name of a WindowsGateway connection, as NTLM and Kerberos each want it.
export interface WindowsUser { user: string; domain: string; principal: string }

/** Accepts DOMAIN\user, user@domain or a bare user. */
export function parseWindowsUser(raw: string): WindowsUser {
  const back = raw.indexOf('\\');
  if (back > 0) {
    const domain = raw.slice(0, back);
    const user = raw.slice(back + 1);
    // For Kerberos a NetBIOS domain is not a realm: the default realm of krb5.conf applies.
    return { user, domain, principal: user };
  }
  const at = raw.lastIndexOf('@');
  if (at > 0) {
    const user = raw.slice(0, at);
    const domain = raw.slice(at + 1);
    return { user, domain: domain.split('.')[0]!.toUpperCase(), principal: `${user}@${domain.toUpperCase()}` };
  }
  return { user: raw, domain: '', principal: raw };
}

/** Why a WindowsGateway user name cannot be used (kinit would read one that starts with "-" as an option), or
 *  undefined. Names the rule, never the value. The hub applies the same rule when it seals the credentials. */
export function windowsUserProblem(raw: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(raw)) return 'the user name of a WindowsGateway connection must not contain whitespace or control characters';
  if (raw.startsWith('-') || raw.includes('\\-')) return 'the user name of a WindowsGateway connection must not start with "-" (nor its part after DOMAIN\\)';
  return undefined;
}
