/**
 * The viewer's script, served as /assets/viewer.js: routes in the fragment (#/, #/mailbox/ID,
 * #/message/ID), everything read from the query API on the same origin with the session cookie.
 * Every string it shows came from mail, so text only enters the page through textContent or
 * createTextNode, never as HTML; links are built from ids with encodeURIComponent.
 * Keys: j / k or the arrows move through a list, Enter opens, / goes to the search box, Escape
 * goes back.
 */
export const VIEWER_JS = `
const main = document.getElementById('main');
const status = document.getElementById('status');
const say = (text) => { status.textContent = text; main.replaceChildren(status); };
const enc = encodeURIComponent;

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

async function api(path) {
  const response = await fetch(path);
  if (response.status === 401) throw new Error('Not signed in: open the link that popvault serve printed.');
  const body = await response.json();
  if (!response.ok) throw new Error(body.error.message);
  return body;
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function table(id, titles, rows) {
  const t = el('table', { id });
  const head = t.createTHead().insertRow();
  for (const title of titles) head.append(el('th', { textContent: title }));
  const body = t.createTBody();
  for (const { cells, href, className } of rows) {
    const row = body.insertRow();
    row.dataset.href = href;
    row.tabIndex = -1;
    if (className) row.className = className;
    for (const cell of cells) row.append(el('td', {}, cell));
    row.addEventListener('click', () => { location.hash = href; });
  }
  return t;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const sender = (from) => (from[0] ? from[0].name || from[0].address : '');

const CHART_DAYS = 30;

/** Bars of messages archived per day, as SVG built node by node (nothing from mail in it). */
function chart(days) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const height = 24;
  const max = Math.max(1, ...days.map((d) => d.messages));
  const total = days.reduce((sum, d) => sum + d.messages, 0);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('width', String(days.length * 4));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', total + ' messages archived in the last ' + days.length + ' days');
  days.forEach((d, i) => {
    // A day with mail gets at least a pixel, so one message among thousands still shows.
    const h = d.messages === 0 ? 0 : Math.max(1, Math.round((d.messages / max) * height));
    const bar = document.createElementNS(ns, 'rect');
    for (const [name, value] of [['x', i * 4], ['y', height - h], ['width', 3], ['height', h]]) bar.setAttribute(name, String(value));
    const title = document.createElementNS(ns, 'title');
    title.textContent = d.day + ': ' + d.messages;
    bar.append(title);
    svg.append(bar);
  });
  return svg;
}

/** A mailbox's chart, or nothing when its API cannot say (an older deployment): never an error. */
async function activity(mailboxId) {
  try {
    return chart((await api('/mailboxes/' + enc(mailboxId) + '/activity?days=' + CHART_DAYS)).days);
  } catch {
    return '';
  }
}

async function showMailboxes() {
  const { items } = await api('/mailboxes');
  const charts = await Promise.all(items.map((box) => activity(box.mailboxId)));
  main.replaceChildren(
    el('h2', { textContent: 'Mailboxes' }),
    table('mailboxes', ['Mailbox', 'Messages', 'Last ' + CHART_DAYS + ' days', 'Last run', 'Error'], items.map((box, i) => ({
      href: '#/mailbox/' + enc(box.mailboxId),
      cells: [
        box.mailboxId,
        String(box.messages),
        charts[i],
        box.lastRun ? box.lastRun.outcome + ', ' + when(box.lastRun.endedAt) : 'never',
        box.lastError ? box.lastError.code + ': ' + (box.lastError.message || '') : '',
      ],
      className: box.lastRun ? box.lastRun.outcome : '',
    }))),
  );
}

function excerpt(parts) {
  return el('span', { className: 'excerpt' }, ...parts.map((p) => (p.match ? el('mark', { textContent: p.text }) : document.createTextNode(p.text))));
}

function messageRows(items) {
  return items.map((m) => ({
    href: '#/message/' + enc(m.id),
    cells: [
      el('span', {}, m.subject || '(no subject)', ...(m.excerpt ? [el('br'), excerpt(m.excerpt)] : [])),
      sender(m.from),
      when(m.date || m.archivedAt),
      m.attachmentCount ? String(m.attachmentCount) : '',
    ],
  }));
}

async function showRuns(mailboxId) {
  const { items } = await api('/mailboxes/' + enc(mailboxId) + '/runs?limit=50');
  const rows = items.map((r) => ({
    href: '#/mailbox/' + enc(mailboxId) + '/runs',
    className: r.outcome,
    cells: [
      when(r.startedAt),
      r.outcome + (r.stopReason ? ' (' + r.stopReason + ')' : ''),
      r.counts.stored + ' stored, ' + r.counts.deleted + ' deleted, ' + r.counts.remainingOnServer + ' left',
      r.errorCode ? r.errorCode + ': ' + (r.errorMessage || '') : '',
      el('span', {}, ...r.failures.flatMap((f) => [f.messageKey + ': ' + f.errorCode + ' ' + f.message, el('br')])),
    ],
  }));
  main.replaceChildren(
    el('h2', { textContent: mailboxId + ': runs' }),
    el('p', {}, el('a', { href: '#/mailbox/' + enc(mailboxId), textContent: 'Messages' })),
    table('runs', ['Started', 'Outcome', 'Messages', 'Error', 'Failed messages'], rows),
  );
}

async function showMailbox(mailboxId, q) {
  const form = el('form', { role: 'search' });
  const input = el('input', { type: 'search', name: 'q', value: q, placeholder: 'Search: words, "a phrase", from:, subject:, has:attachment', id: 'search' });
  form.append(input);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = '#/mailbox/' + enc(mailboxId) + (input.value ? '?q=' + enc(input.value) : '');
  });
  const base = q ? '/search?mailbox=' + enc(mailboxId) + '&q=' + enc(q) + '&' : '/mailboxes/' + enc(mailboxId) + '/messages?';
  const page = await api(base + 'limit=50');
  const list = table('messages', ['Subject', 'From', 'Date', 'Attachments'], messageRows(page.items));
  const runs = el('a', { href: '#/mailbox/' + enc(mailboxId) + '/runs', textContent: 'Runs', id: 'runs-link' });
  const parts = [el('h2', { textContent: mailboxId }), el('p', {}, runs), form, list];
  let cursor = page.nextCursor;
  const more = el('button', { textContent: 'More', id: 'more' });
  more.addEventListener('click', async () => {
    const next = await api(base + 'limit=50&cursor=' + enc(cursor));
    const rows = table('x', [], messageRows(next.items)).tBodies[0].rows;
    list.tBodies[0].append(...rows);
    cursor = next.nextCursor;
    if (!cursor) more.remove();
  });
  if (cursor) parts.push(more);
  if (!page.items.length) parts.push(el('p', { textContent: q ? 'Nothing matches.' : 'No mail yet.' }));
  main.replaceChildren(...parts);
}

function download(href, text) {
  return el('a', { href, textContent: text, download: '' });
}

/**
 * The HTML part in a frame the server's policy sandboxes (no script, no form, nothing loaded from
 * elsewhere); the frame's own sandbox attribute says the same again. Remote images only on request.
 */
async function htmlView(id) {
  const src = '/messages/' + enc(id) + '/html';
  const probe = await fetch(src, { method: 'HEAD' });
  if (!probe.ok) return [];
  const frame = el('iframe', { id: 'html', src, title: 'HTML part', referrerPolicy: 'no-referrer' });
  frame.setAttribute('sandbox', 'allow-popups allow-popups-to-escape-sandbox');
  const remote = el('button', { id: 'remote-images', textContent: 'Show images from other sites' });
  remote.addEventListener('click', () => { frame.src = src + '?images=remote'; remote.remove(); });
  return [remote, frame];
}

async function showMessage(id) {
  const [m, body] = await Promise.all([api('/messages/' + enc(id)), api('/messages/' + enc(id) + '/text')]);
  const people = (list) => list.map((a) => (a.name ? a.name + ' <' + a.address + '>' : a.address)).join(', ');
  const fields = [
    ['From', people(m.from)], ['To', people(m.to)], ['Cc', people(m.cc)],
    ['Date', m.dateHeader || ''], ['Mailbox', m.mailboxId], ['Size', m.octets + ' bytes'],
  ];
  if (m.parseError) fields.push(['Parse error', m.parseError]);
  const dl = el('dl', { id: 'message' });
  for (const [name, value] of fields) if (value) dl.append(el('dt', { textContent: name }), el('dd', { textContent: value }));
  const attachments = el('ul', { id: 'attachments' }, ...m.attachments.map((a) => el('li', {}, download('/messages/' + enc(id) + '/attachments/' + a.index, a.filename || '(unnamed ' + a.contentType + ')'), ' ' + a.octets + ' bytes')));
  const html = await htmlView(id);
  main.replaceChildren(
    el('h2', { textContent: m.subject || '(no subject)' }),
    dl,
    ...html,
    el('pre', { id: 'text', textContent: body.text + (body.truncated ? '\\n[…]' : '') }),
    attachments,
    el('p', {}, download('/messages/' + enc(id) + '/raw', 'Raw message (.eml)')),
  );
}

async function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const q = new URLSearchParams(query || '').get('q') || '';
  const parts = (path || '/').split('/');
  try {
    if (parts[1] === 'mailbox' && parts[2] && parts[3] === 'runs') await showRuns(decodeURIComponent(parts[2]));
    else if (parts[1] === 'mailbox' && parts[2]) await showMailbox(decodeURIComponent(parts[2]), q);
    else if (parts[1] === 'message' && parts[2]) await showMessage(decodeURIComponent(parts[2]));
    else await showMailboxes();
  } catch (error) {
    say(error.message);
  }
}

function move(step) {
  const rows = [...document.querySelectorAll('tbody tr')];
  if (!rows.length) return;
  const at = rows.findIndex((r) => r.getAttribute('aria-selected') === 'true');
  const next = rows[Math.min(rows.length - 1, Math.max(0, at + step))];
  for (const r of rows) r.setAttribute('aria-selected', String(r === next));
  next.focus();
}

document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement) {
    if (event.key === 'Escape') event.target.blur();
    return;
  }
  if (event.key === 'j' || event.key === 'ArrowDown') move(1);
  else if (event.key === 'k' || event.key === 'ArrowUp') move(-1);
  else if (event.key === 'Enter') {
    const row = document.querySelector('tr[aria-selected=true]');
    if (row) location.hash = row.dataset.href;
  } else if (event.key === '/') {
    const search = document.getElementById('search');
    if (search) { event.preventDefault(); search.focus(); }
  } else if (event.key === 'Escape') history.back();
  else return;
  if (event.key !== 'Enter') event.preventDefault();
});

window.addEventListener('hashchange', route);
if (await signIn()) await route();
`;
