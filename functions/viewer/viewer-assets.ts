/**
 * The viewer's page shell and its script, served by the local server. Plain DOM code: text only ever
 * enters the page through textContent, never as HTML, because every string here came from mail.
 */

/** No inline script or style, nothing from elsewhere: the page runs only the script below. */
export const SHELL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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
<header><h1><a href="#/">popvault</a></h1></header>
<main id="main"><p id="status">Loading…</p></main>
</body>
</html>
`;

export const VIEWER_CSS = `body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;padding:.6rem 1.2rem}header h1{font-size:1.1rem;margin:0}header a{color:#fff;text-decoration:none}
main{padding:1rem 1.2rem}table{border-collapse:collapse;background:#fff;min-width:40rem}
th,td{text-align:left;padding:.45rem .8rem;border-bottom:1px solid #e3e6eb}
tr[aria-selected=true]{background:#e8f0fe}tbody tr{cursor:pointer}
.failed,.retry-later{color:#b42318}.success{color:#067647}.partial{color:#b54708}
form{margin:0 0 .8rem}input[type=search]{width:28rem;padding:.35rem .5rem;font:inherit}
mark{background:#fde68a}dl{display:grid;grid-template-columns:8rem 1fr;gap:.3rem 1rem;background:#fff;padding:1rem}
dt{color:#5d6675}dd{margin:0}.excerpt{color:#5d6675;font-size:.9em}button{font:inherit;margin-top:.6rem}
iframe#html{display:block;width:100%;max-width:60rem;height:32rem;border:1px solid #e3e6eb;background:#fff;margin:.6rem 0}
pre#text{white-space:pre-wrap;background:#fff;padding:1rem;font:14px/1.5 ui-monospace,monospace;max-width:60rem}
svg.chart{display:block}svg.chart rect{fill:#3b82f6}`;
