#!/usr/bin/env bash
# Installs the system packages the test suite needs: Debian's postgresql (a real server the
# suite starts itself) and chromium (headless browser tests). Skips what is already there.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || need+=(postgresql)
command -v chromium > /dev/null || need+=(chromium)
id postgres > /dev/null 2>&1 || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
  echo "System packages for the tests are present (postgresql, chromium)."
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing ${need[*]} with apt-get..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
# The suite runs its own server; stop any cluster the package started.
if command -v pg_ctlcluster > /dev/null; then
  $SUDO service postgresql stop > /dev/null 2>&1 || true
fi
echo "Installed ${need[*]}."
