#!/usr/bin/env bash
# Writes the seed corpora (fuzz/corpus/<target>/seed-*) from the worked examples of
# docs/PROTOCOL.md, which tests pin to what Baton builds and accepts: the signed events of the
# test vectors (§1.11, core/tests/it/vectors.rs) and the audit bundle (§4.2,
# server/tests/it/bundle_example.rs). Valid inputs let the fuzzer reach signature checks, the
# log and the fold at once instead of rediscovering the format byte by byte.
set -euo pipefail
cd "$(dirname "$0")"
protocol=../docs/PROTOCOL.md
mkdir -p corpus/event_decode_verify corpus/sync_push_parse corpus/bundle_verify

# One event per test vector of §1.11, as the wire form a tablet sends.
mapfile -t wires < <(awk '/^### 1\.11 /, /^## 2\. / { if (sub(/^wire: /, "")) print }' "$protocol")
[ "${#wires[@]}" -eq 4 ] || { echo "expected 4 event vectors in $protocol" >&2; exit 1; }
for index in "${!wires[@]}"; do
  printf '%s' "${wires[$index]}" > "corpus/event_decode_verify/seed-vector-$((index + 1)).json"
done

# A push of the tablet's chain (vectors 1 to 3) and the authority's event (vector 4), which the
# push refuses as another signer's; and an empty push.
{
  printf '{"events":['
  (IFS=,; printf '%s' "${wires[*]}")
  printf ']}'
} > corpus/sync_push_parse/seed-chain-and-foreign.json
printf '{"events":[]}' > corpus/sync_push_parse/seed-empty.json

# The worked audit bundle: a governance entry, a check-out and its check-in, with proofs.
awk '/^```bundle-example$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' \
  "$protocol" > corpus/bundle_verify/seed-worked-example.json
[ -s corpus/bundle_verify/seed-worked-example.json ] || { echo "no bundle-example in $protocol" >&2; exit 1; }
echo "seeds written:"
find corpus -name 'seed-*' -printf '  %p (%s bytes)\n' | sort
