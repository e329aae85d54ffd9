/**
 * Writes popvault.config.schema.json from the config file's zod schema (npm run schema:config), so an
 * editor completes and checks a config file against the very rules `cdk synth` applies.
 * test/settings/config-json-schema.test.ts fails when the committed file is stale.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../../functions/core/settings/popvault-config.js';

export const CONFIG_SCHEMA_FILE = 'popvault.config.schema.json';

const path = join(import.meta.dirname, '..', '..', CONFIG_SCHEMA_FILE);
writeFileSync(path, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
execFileSync('npx', ['biome', 'format', '--write', path], { stdio: 'ignore' });
process.stdout.write(`wrote ${path}\n`);
