#!/usr/bin/env bash
# The "newest releases" check: install the newest versions pyproject.toml allows (ignoring the
# lock) into a throwaway venv, then run the optimiser's tests and load the demo, so the next
# breaking release of a dependency is caught here rather than by a user. Prints the versions it
# used. Usage: scripts/check-newest.sh [python3]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Newest releases: installing into a throwaway venv ($work)..."
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" install --quiet --upgrade --upgrade-strategy eager ".[test]"

echo "Versions used:"
"$work/venv/bin/python" - <<'PY'
from importlib.metadata import PackageNotFoundError, version
import platform
names = ["highspy", "pulp", "numpy", "pandas", "pydantic", "fastapi", "sqlalchemy",
         "alembic", "psycopg", "matplotlib", "typer", "hypothesis", "schemathesis"]
print(f"  python {platform.python_version()}")
for name in names:
    try:
        print(f"  {name} {version(name)}")
    except PackageNotFoundError:
        print(f"  {name} (not installed)")
PY

echo "Optimiser tests on the newest releases..."
# the installed copy is the checkout's code; -p no:cacheprovider leaves no cache behind
"$work/venv/bin/python" -m pytest tests/unit/optimiser -q -n 2 -p no:cacheprovider

echo "Loading the demo on the newest releases..."
"$work/venv/bin/mission-portfolio" demo --no-serve --db "$work/demo.db" \
  --password "check-$(date +%s)-Newest"

echo "check-newest: passed"
