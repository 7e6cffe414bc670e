/**
 * Process configuration: every option is a command-line flag and one or more environment variables,
 * validated once at start. A bad value stops the process with every problem listed, each naming the
 * flag, the variable, the value given and the valid form; the result is frozen.
 */
import { Option, type Command } from 'commander';
import type { z } from 'zod';

export interface OptionSpec<T> {
  /** Commander flag syntax, e.g. `--http-port <port>`. */
  readonly flag: string;
  /** Environment variables read when the flag is absent, first match wins. */
  readonly env: readonly string[];
  readonly description: string;
  /** The valid form, shown when a value is rejected, e.g. `an integer from 1 to 65535`. */
  readonly form: string;
  /** Parses the raw text (or the default) into the option's value. */
  readonly schema: z.ZodType<T>;
  /** Used when neither flag nor environment gives a value; `undefined` means required or optional. */
  readonly default?: T;
  /** When true the value is never printed (help shows only whether it is set). */
  readonly secret?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec<unknown>>>;

export type OptionValues<S extends OptionSpecs> = {
  readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never;
};

export function defineOption<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

/** Commander's attribute name for a flag: `--http-port <port>` → `httpPort`. */
function attributeName(flag: string): string {
  const long = flag.split(/[ ,]+/).find((part) => part.startsWith('--')) ?? flag;
  return long.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function flagName(flag: string): string {
  return flag.split(' ')[0] ?? flag;
}

/** Registers the specs' flags on a command, with the default and variables in the help text. */
export function addOptions(command: Command, specs: OptionSpecs): Command {
  for (const spec of Object.values(specs)) {
    const shownDefault =
      spec.default === undefined
        ? ''
        : spec.secret
          ? ' (default: set)'
          : ` (default: ${formatDefault(spec.default)})`;
    const envText = spec.env.length > 0 ? ` [env: ${spec.env.join(', ')}]` : '';
    command.addOption(new Option(spec.flag, `${spec.description}${shownDefault}${envText}`));
  }
  return command;
}

function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Resolves each option from the parsed flags, then the environment, then the default, and validates
 * all of them, collecting every problem before failing.
 */
export function resolveOptions<S extends OptionSpecs>(
  specs: S,
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  crossChecks: (values: OptionValues<S>) => string[] = () => [],
): OptionValues<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const flagValue = flags[attributeName(spec.flag)];
    const envName = spec.env.find((variable) => env[variable] !== undefined && env[variable] !== '');
    const raw: unknown = flagValue ?? (envName === undefined ? undefined : env[envName]);
    const source = flagValue !== undefined ? flagName(spec.flag) : (envName ?? 'default');
    const input = raw ?? spec.default;
    const parsed = spec.schema.safeParse(input);
    if (parsed.success) {
      values[name] = parsed.data;
      continue;
    }
    const shown = spec.secret ? '(hidden)' : JSON.stringify(input);
    const where = `${flagName(spec.flag)}${spec.env.length > 0 ? ` / ${spec.env[0] ?? ''}` : ''}`;
    const reason = parsed.error.issues[0]?.message ?? 'invalid';
    problems.push(
      input === undefined
        ? `${where} is required: expected ${spec.form}`
        : `${where} from ${source}: got ${shown} (${reason}); expected ${spec.form}`,
    );
  }
  if (problems.length === 0) problems.push(...crossChecks(values as OptionValues<S>));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values) as OptionValues<S>;
}
