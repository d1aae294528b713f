// Command-line flags, parsed one way for every command of both programs: `--name value` or `--name=value`;
// boolean flags take no value; a flag given twice is refused unless it may repeat; a flag the command does
// not know is refused (a typo never passes silently).

export interface FlagRules {
  /** Every flag the command takes. */
  known: readonly string[];
  /** Flags that take no value (present: 'true'). Default none. */
  booleans?: readonly string[];
  /** Flags that may be given more than once, each value kept in order. Default none. */
  repeatable?: readonly string[];
  /** Leading words before the first flag (e.g. grant's action). Default 0. */
  positional?: number;
  /** Added to the unknown-flag message, e.g. '(see gatehouse-hub grant --help)'. */
  hint?: string;
}

export interface ParsedFlags {
  positional: string[];
  /** Every value of each flag given, in order (one unless the flag is repeatable). */
  all: Record<string, string[]>;
  /** The value of each flag given (the first, for a repeatable one). */
  one: Record<string, string | undefined>;
}

/** A bad command line; the message is the one line to print. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export function parseFlags(args: readonly string[], rules: FlagRules): ParsedFlags {
  const positional: string[] = [];
  const all: Record<string, string[]> = {};
  const known = new Set(rules.known);
  let i = 0;
  for (; i < args.length && positional.length < (rules.positional ?? 0) && !args[i]!.startsWith('--'); i++) positional.push(args[i]!);
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new FlagError(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    const name = eq > 2 ? a.slice(2, eq) : a.slice(2);
    if (!known.has(name)) throw new FlagError(`unknown flag --${name}${rules.hint ? ` ${rules.hint}` : ''}`);
    let value: string;
    if (rules.booleans?.includes(name)) {
      if (eq > 2) throw new FlagError(`flag --${name} takes no value`);
      value = 'true';
    } else if (eq > 2) {
      value = a.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) throw new FlagError(`flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (all[name] && !rules.repeatable?.includes(name)) throw new FlagError(`flag --${name} given twice`);
    (all[name] ??= []).push(value);
  }
  const one: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(all)) one[k] = v[0];
  return { positional, all, one };
}
