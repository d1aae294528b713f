// The rule for a WindowsGateway connection's user name, one function for hub and agent: the hub applies it
// when it seals the credentials, the agent again for each call. The agent hands the name to kinit, which would
// read one that starts with "-" as an option (-kt, -c, -X); whitespace and control characters have no place in
// a Windows or Kerberos principal either.

/** Why a WindowsGateway user name cannot be used, or undefined. Names the rule, never the value. */
export function windowsUserProblem(raw: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(raw)) return 'the user name of a WindowsGateway connection must not contain whitespace or control characters';
  if (raw.startsWith('-') || raw.includes('\\-')) return 'the user name of a WindowsGateway connection must not start with "-" (nor its part after DOMAIN\\)';
  return undefined;
}
