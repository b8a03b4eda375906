import fs from 'node:fs';
import { SECRET_VARIABLES } from './config-schema';
import { ConfigError } from './config-error';

/** Reads one secret file; the default reads it from disk as UTF-8. */
export type ReadSecretFile = (file: string) => string;

const readFromDisk: ReadSecretFile = (file) => fs.readFileSync(file, 'utf8');

/**
 * The environment with every `<SECRET>_FILE` replaced by the secret its file holds, as if it had
 * been given as `<SECRET>`. Both forms at once is an error (one of them would be silently
 * ignored); so is a file that cannot be read. The trailing newline an editor or `echo` leaves is
 * not part of the secret. An empty file means unset, as an empty variable does (a Compose secret
 * made from an unset variable is one), and adds a notice saying so.
 */
export function readSecretFiles(env: Readonly<Record<string, string>>, notices: string[], readFile: ReadSecretFile = readFromDisk): Record<string, string> {
  const resolved: Record<string, string> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    if (file === undefined) continue;
    if (env[name] !== undefined) throw new ConfigError(`${name}, ${fileVariable}: set only one of them`);
    let contents: string;
    try {
      contents = readFile(file);
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      throw new ConfigError(`${fileVariable}: cannot read ${file} (${reason})`);
    }
    const secret = contents.replace(/(\r?\n)+$/, '');
    delete resolved[fileVariable];
    if (secret === '') notices.push(`${fileVariable}: ${file} is empty, so ${name} is unset`);
    else resolved[name] = secret;
  }
  return resolved;
}
