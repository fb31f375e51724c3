#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing:
#   chromium       real-browser sign-in test (driven by Playwright with executable_path)
#   redis-server   the Redis session store's contract test
#   nginx          forward auth in front of a non-Python app (tests/gate/test_nginx.py; /usr/sbin/nginx)
# Needs root (CI and the developer machines run as root); otherwise it says what to install.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# /usr/sbin is not on every PATH (a non-root shell's, often): look there too
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || need+=(nginx)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${need[*]}. Install them with: sudo apt-get install -y ${need[*]}" >&2
  echo "(the tests that need them fail until they are installed: tests/gate needs nginx and chromium)" >&2
  exit 0
fi
echo "Installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
