#!/usr/bin/env bash
# Installs what `npm run bench` needs and a fresh Debian machine may lack: Dovecot's POP3 server,
# mpop (the peer client compared with), openssl (test certificates), java (DynamoDB Local) and
# setpriv (runs mpop as nobody). Does nothing when all are there, so it needs root only then.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
installed dovecot-pop3d || need+=(dovecot-pop3d)
installed mpop || need+=(mpop)
command -v openssl >/dev/null || need+=(openssl ca-certificates)
command -v java >/dev/null || need+=(default-jre-headless)
command -v setpriv >/dev/null || need+=(util-linux)
# Section 7 runs the suite's four real POP3 servers; that script installs or unpacks them.
if [[ ! -d "${POPVAULT_POP3_SERVERS:-/opt/popvault-pop3-servers}/cyrus" ]] || ! installed mailutils-pop3d; then
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "npm run bench: the POP3 servers are missing; run it as root (it installs them)." >&2
    exit 1
  fi
  bash "$(dirname "$0")/../.ci/install-pop3-servers.sh"
fi
((${#need[@]} == 0)) && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
  echo "npm run bench: ${need[*]} missing; run it as root (it installs them with apt-get)." >&2
  exit 1
fi
# Installing dovecot-core would otherwise start a system Dovecot on ports 110/995: the benchmark
# starts its own instance and needs nothing else running.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
echo "npm run bench: installing ${need[*]}" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
