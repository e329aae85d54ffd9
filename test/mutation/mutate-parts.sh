#!/usr/bin/env bash
# Measures the mutation scope part by part, each part into its own committed report
# (reports/mutation/<part>.json, incremental: a part already measured reruns only what changed).
# A part is small enough to finish in one sitting; an interrupted part loses only itself.
#   npm run mutate:parts                   # every part, in order
#   npm run mutate:parts -- pull-run       # the named parts
# Stryker splits --mutate at commas, so a part lists its files in full.
# MUTATION_CONCURRENCY (default 2) sets Stryker's test runners.
set -euo pipefail
cd "$(dirname "$0")/../.."

declare -A PARTS=(
  [pop3-lines]="functions/core/pop3/status-line.ts,functions/core/pop3/listing.ts,functions/core/pop3/listed-size.ts,functions/core/pop3/capabilities.ts,functions/core/pop3/sasl.ts,functions/core/pop3/secret-scrubber.ts"
  [pop3-stream]="functions/core/pop3/dot-unstuffer.ts,functions/core/pop3/wire-reader.ts,functions/core/pop3/command-window.ts,functions/core/pop3/transport.ts"
  [pop3-client]="functions/core/pop3/client.ts,functions/core/pop3/command-channel.ts,functions/core/pop3/body-stream.ts,functions/core/pop3/login.ts,functions/core/pop3/stls.ts,functions/core/pop3/utf8-mode.ts,functions/core/pop3/errors.ts,functions/core/pop3/limits.ts"
  [pull-spool]="functions/core/pull/message-spool.ts,functions/core/pull/pull-options.ts,functions/core/pull/pull-event.ts"
  [pull-run]="functions/core/pull/pull-run.ts,functions/core/pull/plan-retrieval.ts,functions/core/pull/persistence-queue.ts,functions/core/pull/lease-keeper.ts,functions/core/pull/persist-message.ts,functions/core/pull/list-messages.ts,functions/core/pull/retrieve-messages.ts,functions/core/pull/run-counts.ts,functions/core/pull/run-state.ts,functions/core/pull/lease-error.ts"
  [archive-core]="functions/core/archive/record-decoder.ts,functions/core/archive/listing-cursor.ts,functions/core/archive/raw-object-key.ts,functions/core/archive/mailbox-id.ts,functions/core/archive/ports.ts,functions/core/archive/errors.ts,functions/core/archive/sort-date.ts,functions/core/archive/lease-request.ts,functions/adapters/local/local-raw-store.ts,functions/adapters/local/local-durable-files.ts"
  # Beyond issue 12's scope (functions/core/{pop3,pull,archive} and the local raw store it names):
  # the index adapters, measured on request.
  [archive-sqlite]="functions/adapters/local/sqlite-message-index.ts,functions/adapters/local/sqlite-rows.ts,functions/adapters/local/sqlite-schema.ts,functions/adapters/local/sqlite-statements.ts,functions/adapters/local/sqlite-listing.ts"
  [archive-aws]="functions/adapters/aws/dynamodb-message-index.ts,functions/adapters/aws/dynamodb-table.ts,functions/adapters/aws/dynamodb-records.ts,functions/adapters/aws/dynamodb-calls.ts,functions/adapters/aws/dynamodb-message-writer.ts,functions/adapters/aws/dynamodb-mailbox-lease.ts,functions/adapters/aws/dynamodb-run-log.ts,functions/adapters/aws/dynamodb-archive-reader.ts,functions/adapters/aws/s3-raw-store.ts,functions/adapters/aws/s3-calls.ts,functions/adapters/aws/s3-multipart-upload.ts"
)
ORDER=(pop3-lines pop3-stream pop3-client pull-spool pull-run archive-core archive-sqlite archive-aws)

# The scope is every file of functions/core/{pop3,pull,archive}: a file no part names is a gap in
# the score, so it stops the run instead of passing unnoticed.
all_parts=" ${PARTS[*]} "
for file in functions/core/pop3/*.ts functions/core/pull/*.ts functions/core/archive/*.ts; do
  if [[ "$all_parts" != *"$file"* ]]; then
    echo "mutate-parts: $file is in the mutation scope but in no part; add it to one" >&2
    exit 2
  fi
done

parts=("$@")
[[ ${#parts[@]} -eq 0 ]] && parts=("${ORDER[@]}")
mkdir -p reports/mutation
for part in "${parts[@]}"; do
  if [[ -z "${PARTS[$part]:-}" ]]; then
    echo "mutate-parts: no part named '$part'; the parts are: ${ORDER[*]}" >&2
    exit 2
  fi
  echo "== $part: ${PARTS[$part]} ($(date -u +%H:%M:%S))"
  MUTATION_REPORT="reports/mutation/$part.json" npx stryker run --mutate "${PARTS[$part]}"
done
