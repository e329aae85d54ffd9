#!/usr/bin/env node
// The installed `popvault` command: the prebuilt bundle while it is fresh (see cli-bundle.mjs),
// otherwise the TypeScript sources through tsx's loader.
import { freshBundle } from './cli-bundle.mjs';

const bundle = freshBundle();
if (bundle !== null) {
  const { run } = await import(bundle);
  await run();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { run } = await import('./main.ts');
  await run();
}
