/**
 * Opens the viewer in the person's browser, the way `npm start` should land them in it. The
 * one-time sign-in link is never put on a command line (any local user can read another's process
 * arguments in /proc): it goes into a file only its owner can read, a page that forwards to the link,
 * and the browser is given that file, as Jupyter does.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BrowserCommand {
  command: string;
  args: string[];
}

/**
 * The command that opens a file in the browser, or null when there is none to use: $BROWSER when
 * set (the convention xdg-utils and Python's webbrowser follow); otherwise nothing in CI or on a
 * Linux machine without a display (over SSH, a container), where a browser cannot appear.
 */
export function browserCommand(
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform,
): BrowserCommand | null {
  const chosen = env.BROWSER?.trim();
  if (chosen) return { command: chosen, args: [] };
  if (env.CI) return null;
  if (platform === 'darwin') return { command: 'open', args: [] };
  if (platform === 'win32') return { command: 'explorer.exe', args: [] };
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return { command: 'xdg-open', args: [] };
  return null;
}

/** Writes the forwarding page beside the archive's other private files; returns its path. */
export async function writeOpenPage(directory: string, loginUrl: string): Promise<string> {
  const path = join(directory, 'open-viewer.html');
  const target = JSON.stringify(loginUrl).replaceAll('<', '\\u003c');
  const page = `<!doctype html><meta charset="utf-8"><title>popvault</title><script>location.replace(${target})</script>`;
  await writeFile(path, page, { mode: 0o600 });
  return path;
}

/**
 * Starts the browser on the page and resolves true once the command has started, false if it could
 * not be run. Whatever the browser does afterwards is its own business: it is not waited for.
 */
export function openInBrowser(command: BrowserCommand, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command.command, [...command.args, pathToFileURL(path).href], {
      detached: true,
      stdio: 'ignore',
    });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
