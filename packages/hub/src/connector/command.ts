// `gatehouse-hub connector-definition`: writes the two files a Power Platform custom connector imports
// (apiDefinition.swagger.json, apiProperties.json) for this hub. Refuses to overwrite without --force; each kind
// of failure has its own exit code (CONNECTOR_HELP).
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FlagError, flagRules, parseFlags, readSettings, settingsHelp, type SettingValues } from '@gatehouse/shared';
import { CLOUDS } from '../auth/clouds.js';
import { signInOf, type SignIn } from '../openapi/sign-in.js';
import { CLIENT_ID_PLACEHOLDER, connectorProperties } from './api-properties.js';
import { CONNECTOR_SETTINGS } from './settings.js';
import { connectorSwagger } from './swagger.js';

export const DEFINITION_FILE = 'apiDefinition.swagger.json';
export const PROPERTIES_FILE = 'apiProperties.json';

/** Exit codes: 0 written. */
export const EXIT = { badInput: 2, exists: 3, cannotWrite: 4 } as const;

export const CONNECTOR_HELP = `gatehouse-hub connector-definition: write the files of a Power Platform custom connector for this hub
(${DEFINITION_FILE}: OpenAPI 2.0 with "Invoke an HTTP request" and "List connections"; ${PROPERTIES_FILE}:
Entra ID sign-in). Import them with \`pac connector create\` or the portal (README, "Power Platform custom connector").

Usage:
  gatehouse-hub connector-definition --hub https://hub.example.com [--out DIR] [--force] [flags]

${settingsHelp(CONNECTOR_SETTINGS)}
Exit codes: 0 written; 2 bad flags or values (a --hub that is not an https URL, say); 3 a file is already there
(nothing written; --force replaces it); 4 the folder cannot be made or written.
`;

export class ConnectorError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}

type Settings = SettingValues<typeof CONNECTOR_SETTINGS>;

const bad = (message: string) => new ConnectorError(message, EXIT.badInput);

function hubUrl(raw: string | undefined): URL {
  if (!raw) throw bad("--hub is required: the hub's public https address, e.g. --hub https://hub.example.com");
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad(`--hub ${raw.slice(0, 200)} is not a URL: give the hub's public https address, e.g. https://hub.example.com`);
  }
  if (u.protocol !== 'https:') throw bad("--hub must be an https URL: Power Platform sends the users' tokens to it");
  if (u.username || u.password || u.search || u.hash) throw bad('--hub must not carry userinfo, a query or a fragment');
  return u;
}

function signIn(s: Settings): SignIn {
  const authorityHost = (s.authorityHost ?? CLOUDS[s.cloud].login).replace(/\/+$/, '');
  if (!/^https:\/\/[^/?#@]+$/.test(authorityHost)) throw bad('--authority-host must be https://host[:port]');
  const appIdUri = s.appIdUri ?? (s.clientId ? `api://${s.clientId}` : undefined);
  if (!appIdUri) throw bad("--app-id-uri or --client-id is required (the hub's App ID URI is the audience of the connector's tokens)");
  return signInOf({ authorityHost, allowedTenants: [s.tenant], appIdUri, scope: s.scope });
}

function settingsOf(args: string[], env: Record<string, string | undefined>): Settings {
  let flags: Record<string, string[]>;
  try {
    flags = parseFlags(args, flagRules(CONNECTOR_SETTINGS, { hint: '(see gatehouse-hub connector-definition --help)' })).all;
  } catch (err) {
    throw err instanceof FlagError ? bad(err.message) : err;
  }
  const { values, problems } = readSettings(CONNECTOR_SETTINGS, { flags, env, nameBy: 'flag' });
  if (problems.length > 0) throw bad(problems.join('; '));
  return values;
}

/** Why a folder cannot be written, by the system's error code. */
const WHY: Record<string, string> = {
  EACCES: 'permission denied (EACCES)',
  EPERM: 'not permitted (EPERM)',
  EROFS: 'the file system is read-only (EROFS)',
  ENOTDIR: 'part of the path is a file, not a folder (ENOTDIR)',
  ENOENT: 'the folder cannot be made there (ENOENT)',
  ENOSPC: 'no space left on the device (ENOSPC)',
};

/** Makes `dir` and its missing parents, one level at a time: Node's recursive mkdir spins forever where a parent
 *  exists but refuses children (under /proc, say). */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
  if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
}

/** Writes both files, or neither when one is there already (without --force). Returns the lines to print. */
export function runConnectorDefinition(args: string[], env: Record<string, string | undefined>, version: string): string[] {
  const s = settingsOf(args, env);
  const hub = hubUrl(s.hub);
  const sign = signIn(s);
  const dir = resolve(s.out);
  const files: Array<[string, unknown]> = [
    [join(dir, DEFINITION_FILE), connectorSwagger(hub, sign, version)],
    [join(dir, PROPERTIES_FILE), connectorProperties(sign, s.connectorClientId)],
  ];
  if (!s.force) {
    const there = files.filter(([p]) => existsSync(p)).map(([p]) => p);
    if (there.length > 0) throw new ConnectorError(`${there.join(' and ')} already there: nothing written (--force replaces)`, EXIT.exists);
  }
  try {
    makeFolder(dir);
    for (const [path, content] of files) writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { flag: s.force ? 'w' : 'wx' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new ConnectorError(`${e.path ?? dir} appeared meanwhile: not replaced (--force replaces)`, EXIT.exists);
    throw new ConnectorError(`cannot write to ${dir}: ${WHY[e.code ?? ''] ?? e.code ?? e.message}`, EXIT.cannotWrite);
  }
  return [
    ...files.map(([p]) => `wrote ${p}`),
    ...(s.connectorClientId
      ? []
      : [`${PROPERTIES_FILE}: replace the client id ${CLIENT_ID_PLACEHOLDER} with your connector app's (or pass --connector-client-id)`]),
  ];
}
