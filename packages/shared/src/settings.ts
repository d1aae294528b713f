// The settings model: each setting of the hub, `grant` and the agent is declared once (variable, flag, default,
// parser, help), and read, checked and explained from that declaration: values come from flags over the
// environment over the default, every problem is collected, `--help` lines and the documented defaults are
// rendered from the same table. No I/O: a `NAME_FILE` secret is read through the caller's `readFile`.
import type { FlagRules } from './flags.js';
import type { Parsed, Parser } from './setting-parsers.js';

export interface SettingSpec<T> {
  /** Environment variable; absent: a flag only. */
  env?: string;
  /** Flag name without the dashes; absent: a variable only. */
  flag?: string;
  /** The default as a user would write it, parsed like a given value; absent: unset. */
  default?: string;
  /** How help and docs show the default when it is not a literal (`the cloud's`). Default: `default`. */
  shownDefault?: string;
  parse: Parser<T>;
  /** One line for `--help`. */
  help: string;
  /** Placeholder for the value in `--help` (`URL`); default none. */
  arg?: string;
  /** `NAME_FILE` (and `--name-file`) read the value from a file. Default false. */
  secret?: boolean;
  /** A flag that takes no value (given: `true`). Default false. */
  boolean?: boolean;
}

export interface Setting<V, HasDefault extends boolean = boolean> extends Omit<SettingSpec<unknown>, 'parse'> {
  /** Whether the setting always has a value (a default, or a repeatable flag: an empty list). */
  readonly hasDefault: HasDefault;
  /** A flag that may be given more than once (value: the list). */
  readonly repeatable: boolean;
  /** The given values (one, or each of a repeatable flag's) to the setting's value. */
  readonly read: (raws: readonly string[]) => Parsed<V>;
}

export type SettingTable = Readonly<Record<string, Setting<unknown>>>;

export type SettingValues<S extends SettingTable> = {
  readonly [K in keyof S]: S[K] extends Setting<infer V, true> ? V : S[K] extends Setting<infer V, boolean> ? V | undefined : never;
};

function validate<T>(spec: SettingSpec<T>): void {
  if (!spec.env && !spec.flag) throw new Error('a setting needs a variable or a flag');
  if (spec.default !== undefined && !spec.parse(spec.default).ok) throw new Error(`the default of ${spec.env ?? spec.flag} does not parse`);
}

/** A setting with one value. */
export function setting<T>(spec: SettingSpec<T> & { default: string }): Setting<T, true>;
export function setting<T>(spec: SettingSpec<T>): Setting<T, false>;
export function setting<T>(spec: SettingSpec<T>): Setting<T, boolean> {
  validate(spec);
  const { parse, ...meta } = spec;
  return Object.freeze({ ...meta, hasDefault: spec.default !== undefined, repeatable: false, read: (raws: readonly string[]) => parse(raws[0]!) }); // lint-allow: per-call (declared once, at load)
}

/** A flag that may be given more than once; its value is the list of parsed values (empty when not given). */
export function repeatedSetting<T>(spec: SettingSpec<T> & { flag: string }): Setting<T[], true> {
  validate(spec);
  const { parse, ...meta } = spec;
  // lint-allow: per-call (declared once, at load)
  return Object.freeze({
    ...meta,
    hasDefault: true as const,
    repeatable: true,
    read: (raws: readonly string[]): Parsed<T[]> => {
      const out: T[] = [];
      for (const raw of raws) {
        const r = parse(raw);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return { ok: true, value: out };
    },
  });
}

/** The name a problem with the setting is reported under: its variable, else its flag (`prefer: 'flag'`: the other way round). */
export function settingName(s: Setting<unknown>, prefer: 'env' | 'flag' = 'env'): string {
  return (prefer === 'flag' && s.flag ? `--${s.flag}` : s.env) ?? `--${s.flag}`;
}

/** The rules `parseFlags` needs for the flags of a table (a secret's `--name-file` too). */
export function flagRules(table: SettingTable, extra: Omit<FlagRules, 'known' | 'booleans' | 'repeatable'> = {}): FlagRules {
  const settings = Object.values(table).filter((s) => s.flag);
  // lint-allow: per-call (once per command line)
  return {
    ...extra,
    known: settings.flatMap((s) => (s.secret ? [s.flag!, `${s.flag}-file`] : [s.flag!])),
    booleans: settings.filter((s) => s.boolean).map((s) => s.flag!),
    repeatable: settings.filter((s) => s.repeatable).map((s) => s.flag!),
  };
}

export interface SettingSources {
  /** Flags as `parseFlags(...).all` gives them. */
  flags?: Readonly<Record<string, readonly string[] | undefined>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads a `NAME_FILE` secret; needed only for a table with secrets. */
  readFile?: (path: string) => string;
  /** What a problem names a setting by that has both (settingName). Default 'env'. */
  nameBy?: 'env' | 'flag';
}

/**
 * Every setting of the table from the sources: a flag over its variable over the default; an empty variable is
 * unset (a flag given empty is given, and its parser judges it); a secret given by neither is read from the
 * file `--name-file` or `NAME_FILE` names. Each value
 * that does not parse adds one problem (`NAME must be …`); the values of those are undefined.
 */
export function readSettings<S extends SettingTable>(table: S, src: SettingSources): { values: SettingValues<S>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const raws = given(s, src, problems);
    const input = raws ?? (s.default !== undefined ? [s.default] : s.repeatable ? [] : undefined);
    if (input === undefined) {
      values[key] = undefined;
      continue;
    }
    const r = s.read(input);
    if (r.ok) values[key] = r.value;
    else problems.push(`${settingName(s, src.nameBy)} must be ${r.expected}`);
  }
  return { values: values as SettingValues<S>, problems };
}

function given(s: Setting<unknown>, src: SettingSources, problems: string[]): readonly string[] | undefined {
  const flagged = s.flag ? src.flags?.[s.flag] : undefined;
  if (flagged?.length) return flagged;
  const fromEnv = s.env ? src.env?.[s.env] : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return [fromEnv];
  if (!s.secret) return undefined;
  const file = (s.flag ? src.flags?.[`${s.flag}-file`]?.[0] : undefined) ?? (s.env ? src.env?.[`${s.env}_FILE`] : undefined);
  if (!file) return undefined;
  try {
    return [src.readFile!(file).trim()];
  } catch {
    problems.push(`${s.env ?? `--${s.flag}`}_FILE: cannot read ${file}`);
    return undefined;
  }
}

/** The default as help and docs show it ('' when unset). */
export function shownDefault(s: Setting<unknown>): string {
  return s.shownDefault ?? s.default ?? '';
}

/** `--help` lines for a table: flag (with its placeholder), variable, help, default; columns aligned. */
export function settingsHelp(table: SettingTable): string {
  const settings = Object.values(table);
  const left = (s: Setting<unknown>) => (s.flag ? `--${s.flag}${s.arg ? ` ${s.arg}` : ''}` : '');
  const lw = Math.max(...settings.map((s) => left(s).length));
  const ew = Math.max(...settings.map((s) => (s.env ?? '').length));
  return settings
    .map((s) => {
      const def = shownDefault(s);
      const cols = [...(lw > 0 ? [left(s).padEnd(lw)] : []), ...(ew > 0 ? [(s.env ?? '').padEnd(ew)] : [])];
      return `  ${cols.join(' ')} ${s.help}${def ? ` (default ${def})` : ''}`;
    })
    .join('\n');
}

/** Freezes an object and everything it holds (a loaded configuration: nothing changes it afterwards). */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** The settings of a table a command takes, by key. */
export function pickSettings<S extends SettingTable, K extends keyof S>(table: S, keys: readonly K[]): Pick<S, K> {
  return Object.fromEntries(keys.map((k) => [k, table[k]])) as Pick<S, K>;
}
