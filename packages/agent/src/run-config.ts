// What `gatehouse-agent run` starts from: its flags, the environment and the config file, checked together
// (every problem in one AgentConfigError) and frozen; nothing changes it afterwards.
import { existsSync } from 'node:fs';
import { deepFreeze, readSettings } from '@gatehouse/shared';
import { type AgentConfig, AgentConfigError, DEFAULT_CONFIG_PATH, checkAgentConfig } from './config.js';
import { COMMAND_SETTINGS } from './settings.js';

export interface RunConfig {
  configPath: string;
  config: AgentConfig;
  /** On SIGTERM: how long calls in flight may take. Default 600 s. */
  drainTimeoutMs: number;
  /** Where to serve Prometheus metrics; default off. */
  metricsListen: { host: string; port: number } | undefined;
  keytab: string | undefined;
  logLevel: string;
}

export function loadRunConfig(
  flags: Readonly<Record<string, readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<RunConfig> {
  const { values: v, problems } = readSettings(COMMAND_SETTINGS.run, { flags, env });
  const configPath = v.config ?? DEFAULT_CONFIG_PATH;
  if (v.keytab !== undefined && !existsSync(v.keytab)) problems.push(`--keytab ${v.keytab} does not exist`);
  const file = checkAgentConfig(configPath);
  problems.push(...file.problems);
  if (problems.length > 0) throw new AgentConfigError(problems.join('; '));
  return deepFreeze({
    configPath,
    config: file.config!,
    drainTimeoutMs: v.drainTimeoutMs,
    metricsListen: v.metricsListen,
    keytab: v.keytab,
    logLevel: v.logLevel,
  });
}
