#!/usr/bin/env bash
# Trunk post_build hook: writes a hash of every built file into the staged service worker.
# A browser installs a new service worker only when sw.js changes byte for byte; Trunk's file
# hashes alone do not change for every build, so this stamp is what versions the precache.
set -euo pipefail
staging="${TRUNK_STAGING_DIR:?this script runs as a Trunk hook}"
# The dashboard's build (dist/dashboard) has no service worker: it is online only.
if [ ! -f "$staging/sw.js" ]; then
  echo "no service worker in this build: nothing to stamp"
  exit 0
fi
build_id=$(cd "$staging" && find . -type f ! -name sw.js -print0 | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)
sed -i "s/__BATON_BUILD_ID__/${build_id}/" "$staging/sw.js"
echo "service worker stamped with build ${build_id}"
