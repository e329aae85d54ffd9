/**
 * The viewer's page shell and its script, served by the local server. Plain DOM code: text only ever
 * enters the page through textContent, never as HTML, because every string here came from mail.
 */

/** No inline script or style, nothing from elsewhere: the page runs only the script below. */
export const SHELL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SHELL_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>popvault</title>
<link rel="stylesheet" href="/assets/viewer.css">
<script type="module" src="/assets/viewer.js"></script>
</head>
<body>
<header><h1>popvault</h1></header>
<main id="main"><p id="status">Loading…</p></main>
</body>
</html>
`;

export const VIEWER_CSS = `body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.6rem 1.2rem}header h1{font-size:1.1rem;margin:0}
main{padding:1rem 1.2rem}table{border-collapse:collapse;background:#fff;min-width:40rem}
th,td{text-align:left;padding:.45rem .8rem;border-bottom:1px solid #e3e6eb}
.failed,.retry-later{color:#b42318}.success{color:#067647}.partial{color:#b54708}`;

export const VIEWER_JS = `
const main = document.getElementById('main');
const status = document.getElementById('status');
const say = (text) => { status.textContent = text; };

/** False when a sign-in link was opened and refused: its message stays on screen. */
async function signIn() {
  const match = /^#login=([A-Za-z0-9_-]{43})$/.exec(location.hash);
  if (!match) return true;
  // Out of the address bar and the history before anything else: the code is for one use.
  history.replaceState(null, '', location.pathname + location.search);
  const response = await fetch('/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: match[1] }),
  });
  if (response.ok) return true;
  say((await response.json()).error.message);
  return false;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
}

async function showMailboxes() {
  const response = await fetch('/mailboxes');
  if (response.status === 401) {
    say('Not signed in: open the link that popvault serve printed.');
    return;
  }
  if (!response.ok) {
    say((await response.json()).error.message);
    return;
  }
  const { items } = await response.json();
  const table = document.createElement('table');
  table.id = 'mailboxes';
  const head = table.createTHead().insertRow();
  for (const title of ['Mailbox', 'Messages', 'Last run', 'Error']) {
    const th = document.createElement('th');
    th.textContent = title;
    head.append(th);
  }
  const body = table.createTBody();
  for (const box of items) {
    const row = body.insertRow();
    cell(row, box.mailboxId);
    cell(row, String(box.messages));
    cell(row, box.lastRun ? box.lastRun.outcome + ', ' + box.lastRun.endedAt : 'never', box.lastRun?.outcome);
    cell(row, box.lastError ? box.lastError.code + ': ' + (box.lastError.message ?? '') : '');
  }
  status.remove();
  main.append(table);
}

if (await signIn()) await showMailboxes();
`;
