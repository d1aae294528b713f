// National clouds: sign-in and Graph hosts, and which cloud a resource belongs to, so a connection to a
// resource of another cloud is refused when it is created instead of failing at sign-in.
export type Cloud = 'AzurePublic' | 'AzureUSGovernment' | 'AzureUSGovernmentDoD' | 'AzureChina';

export interface CloudInfo {
  login: string;
  graph: string;
}

export const CLOUDS: Record<Cloud, CloudInfo> = {
  AzurePublic: { login: 'https://login.microsoftonline.com', graph: 'https://graph.microsoft.com' },
  AzureUSGovernment: { login: 'https://login.microsoftonline.us', graph: 'https://graph.microsoft.us' },
  AzureUSGovernmentDoD: { login: 'https://login.microsoftonline.us', graph: 'https://dod-graph.microsoft.us' },
  AzureChina: { login: 'https://login.chinacloudapi.cn', graph: 'https://microsoftgraph.chinacloudapi.cn' },
};

/** Sign-in hosts msal-node knows itself; any other authority host must be passed as a knownAuthority. */
export const KNOWN_LOGIN_HOSTS: ReadonlySet<string> = new Set(Object.values(CLOUDS).map((c) => new URL(c.login).host));

/** Hosts that name one cloud exactly (checked first), then DNS suffixes that name a family of clouds. */
const EXACT: Record<string, Cloud[]> = {
  'graph.microsoft.com': ['AzurePublic'],
  'graph.microsoft.us': ['AzureUSGovernment'],
  'dod-graph.microsoft.us': ['AzureUSGovernmentDoD'],
  'microsoftgraph.chinacloudapi.cn': ['AzureChina'],
};
const US_GOV: Cloud[] = ['AzureUSGovernment', 'AzureUSGovernmentDoD'];
const SUFFIXES: Array<[string, Cloud[]]> = [
  ['chinacloudapi.cn', ['AzureChina']],
  ['azure.cn', ['AzureChina']],
  ['sharepoint.cn', ['AzureChina']],
  ['partner.outlook.cn', ['AzureChina']],
  ['dynamics.cn', ['AzureChina']],
  ['microsoft.us', US_GOV],
  ['usgovcloudapi.net', US_GOV],
  ['azure.us', US_GOV],
  ['sharepoint.us', US_GOV],
  ['sharepoint-mil.us', ['AzureUSGovernmentDoD']],
  ['office365.us', US_GOV],
  ['dynamics.us', US_GOV],
  ['microsoftonline.us', US_GOV],
  ['appservice.us', US_GOV],
  ['microsoft.com', ['AzurePublic']],
  ['windows.net', ['AzurePublic']],
  ['azure.com', ['AzurePublic']],
  ['azure.net', ['AzurePublic']],
  ['office.com', ['AzurePublic']],
  ['office365.com', ['AzurePublic']],
  ['sharepoint.com', ['AzurePublic']],
  ['dynamics.com', ['AzurePublic']],
  ['microsoftonline.com', ['AzurePublic']],
  ['powerbi.com', ['AzurePublic']],
  ['azurewebsites.net', ['AzurePublic']],
];

/** The clouds a resource can belong to; undefined for cloud-neutral resources (api://…, your own hosts). */
export function cloudsOfResource(resourceUri: string): Cloud[] | undefined {
  let host: string;
  try {
    host = new URL(resourceUri).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  if (!host) return undefined;
  if (EXACT[host]) return EXACT[host];
  let best: [string, Cloud[]] | undefined;
  for (const s of SUFFIXES) if ((host === s[0] || host.endsWith(`.${s[0]}`)) && (!best || s[0].length > best[0].length)) best = s;
  return best?.[1];
}

/** An Entra ID object or application id (a GUID), as Graph and `{id}/.default` scopes take it. */
export const ENTRA_ID_GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
