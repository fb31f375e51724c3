#!/usr/bin/env bash
# `make bench` preparation: install the load generator when it is missing.
#   wrk   the HTTP load generator of bench_page and bench_graphcall (Debian package)
# Without it (not root, no apt) the benchmarks fall back to a bounded Python client: say so.
set -euo pipefail

command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "wrk is not installed (sudo apt-get install -y wrk); the page and Graph benchmarks use a Python client" >&2
  exit 0
fi
echo "Installing Debian package: wrk" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wrk >/dev/null || echo "could not install wrk; using the Python client" >&2
