// The values install-service writes into a systemd unit or a WinSW definition: a newline in --config or --user
// would add unit lines (`ExecStartPre=+...` runs as root), a space or `%` would break ReadWritePaths or get
// systemd's `%` expansion. Such values are refused (one line, exit 2) before anything is written.
import { AgentConfigError } from '../config.js';

/** POSIX portable user names, at most 32 characters (useradd's limit). */
const USER_NAME = /^[a-z_][a-z0-9_-]*\$?$/;
export const USER_NAME_MAX = 32;

/** Control characters (newline included), whitespace, `%`, quotes, backslash: never in a Linux config path. */
const LINUX_PATH_UNSAFE = /[\u0000-\u001f\u007f-\u009f\s%"'\\]/u;
/** Windows: control characters, `"` and `%` (WinSW expands %VAR%); spaces are legitimate there. */
const WINDOWS_PATH_UNSAFE = /[\u0000-\u001f\u007f-\u009f"%]/u;

export function checkUser(user: string): void {
  if (user.length > USER_NAME_MAX || !USER_NAME.test(user)) {
    throw new AgentConfigError(`--user must be a portable user name ([a-z_][a-z0-9_-]*, optionally ending in $, at most ${USER_NAME_MAX} characters)`);
  }
}

export function checkConfigValue(configPath: string, platform: 'linux' | 'windows'): void {
  const unsafe = platform === 'linux' ? LINUX_PATH_UNSAFE : WINDOWS_PATH_UNSAFE;
  if (unsafe.test(configPath)) {
    const what = platform === 'linux' ? 'control characters, whitespace, %, quotes or backslashes' : 'control characters, " or %';
    throw new AgentConfigError(`--config must not contain ${what} (the path is written into the service definition)`);
  }
}

/**
 * Windows paths that name something other than they seem: device and verbatim prefixes (`\\?\`, `\\.\`) skip
 * normalisation, a trailing dot or space in a name is dropped (`C:\Windows.` is `C:\Windows`), and an 8.3 short
 * name (`PROGRA~1`) hides the long one. Why `path` is refused, or undefined.
 */
export function windowsPathReason(path: string): string | undefined {
  if (/^[\\/]{2}[?.][\\/]/.test(path) || /^\\\?\?\\/.test(path)) return `${path} has a device or verbatim prefix (\\\\?\\ or \\\\.\\)`;
  const names = path
    .replace(/^[A-Za-z]:/, '')
    .split(/[\\/]+/)
    .filter((n) => n !== '' && n !== '.' && n !== '..');
  if (names.some((n) => /[. ]$/.test(n))) return `${path} has a name ending in a dot or space`;
  if (names.some((n) => /~\d/.test(n))) return `${path} has an 8.3 short name (~ and a digit)`;
  return undefined;
}
