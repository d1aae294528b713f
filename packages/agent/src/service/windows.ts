// Windows service: node.exe does not speak to the Service Control Manager itself, so the agent runs under
// WinSW (github.com/winsw/winsw), whose XML definition is generated here. install-service writes it next to
// the WinSW executable and runs `<winsw> install` and `<winsw> start`; --print shows it.
import { NODE_FLAGS } from '@gatehouse/shared';
import { AgentConfigError } from '../config.js';
import type { ServiceSpec } from './systemd.js';

export const WINDOWS_SERVICE_ID = 'gatehouse-agent';

/** Every value goes through this: the five XML escapes; a control character (not allowed in XML 1.0) is refused. */
const xml = (s: string) => {
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new AgentConfigError(`${JSON.stringify(s)} holds a control character and cannot go into the WinSW definition`);
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
};
const arg = (s: string) => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);

export function winswXml(s: ServiceSpec & { logDir: string }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<service>
  <id>${WINDOWS_SERVICE_ID}</id>
  <name>Gatehouse agent</name>
  <description>Relays calls from the Gatehouse hub to intranet services.</description>
  <executable>${xml(s.nodePath)}</executable>
  <arguments>${xml([...NODE_FLAGS, s.mainPath, 'run', '--config', s.configPath, '--drain-timeout', String(s.drainSeconds)].map(arg).join(' '))}</arguments>
  <startmode>Automatic</startmode>
  <delayedAutoStart>true</delayedAutoStart>
  <depend>Tcpip</depend>
  <onfailure action="restart" delay="10 sec"/>
  <onfailure action="restart" delay="30 sec"/>
  <resetfailure>1 hour</resetfailure>
  <stoptimeout>${s.drainSeconds + 20} sec</stoptimeout>
  <serviceaccount>
    <username>NT AUTHORITY\\LocalService</username>
  </serviceaccount>
  <logpath>${xml(s.logDir)}</logpath>
  <log mode="roll-by-size">
    <sizeThreshold>10240</sizeThreshold>
    <keepFiles>8</keepFiles>
  </log>
</service>
`;
}

/** `configDir`: the config's directory as checkConfigDir resolved it (the agent's own, never a shared one). */
export function windowsInstallSteps(winswExe: string, configDir: string): string[][] {
  return [
    // Only the service account (and administrators) may read the config: it holds the gateway key.
    ['icacls', configDir, '/inheritance:r', '/grant:r', 'NT AUTHORITY\\LocalService:(OI)(CI)M', 'BUILTIN\\Administrators:(OI)(CI)F'],
    [winswExe, 'install'],
    [winswExe, 'start'],
  ];
}

export function windowsUninstallSteps(winswExe: string): string[][] {
  return [
    [winswExe, 'stop'],
    [winswExe, 'uninstall'],
  ];
}
