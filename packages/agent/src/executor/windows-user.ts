// The user name of a WindowsGateway connection, as NTLM and Kerberos each want it.
export interface WindowsUser {
  user: string;
  domain: string;
  principal: string;
}

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
