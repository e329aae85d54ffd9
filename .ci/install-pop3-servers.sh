#!/usr/bin/env bash
# Installs the four real POP3 servers the test suite runs, as root, on Debian 12.
#
# Dovecot (dovecot-pop3d) and GNU Mailutils (mailutils-pop3d) install normally. Courier (courier-pop)
# and Cyrus (cyrus-pop3d) declare `Conflicts: pop3-server`, so they cannot be installed beside
# Dovecot: their packages, and whatever they depend on that this machine lacks, are downloaded
# (`apt-get install --download-only` resolves the dependencies without installing anything) and
# unpacked with `dpkg-deb -x` into a private root each, under $POPVAULT_POP3_SERVERS. Nothing of
# theirs touches /etc, /usr or /run: the tests run them from those roots (test/support/*-lab.ts).
set -euo pipefail

ROOTS="${POPVAULT_POP3_SERVERS:-/opt/popvault-pop3-servers}"

# Installing a server package would otherwise start it on the system ports; the tests start their
# own instances and need nothing else running.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi

export DEBIAN_FRONTEND=noninteractive
if [[ "${SKIP_APT_UPDATE:-}" != 1 ]]; then apt-get update; fi
apt-get install -y --no-install-recommends \
  dovecot-pop3d mailutils-pop3d openssl ca-certificates util-linux

unpack() {
  local name=$1
  shift
  local root="$ROOTS/$name" stamp="$ROOTS/$name.packages"
  # The same package list already unpacked: nothing to do.
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$*" && -d "$root" ]]; then return; fi
  local cache
  cache=$(mktemp -d)
  mkdir -p "$cache/partial"
  apt-get install --download-only -y --no-install-recommends -o APT::Sandbox::User=root \
    -o Dir::Cache::archives="$cache" "$@" >/dev/null
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$cache"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$cache"
  echo "$*" > "$stamp"
  echo "unpacked $name into $root"
}

unpack courier courier-pop
unpack cyrus cyrus-pop3d cyrus-imapd cyrus-admin sasl2-bin
