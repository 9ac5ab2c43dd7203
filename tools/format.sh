#!/usr/bin/env bash
# Formats the whole tree to the project's style, in place: ruff's fixes and formatter for Python (configured in
# pyproject.toml) and clang-format for csrc/ (configured in .clang-format). The tools are pinned in the `test`
# extra. Afterwards it runs the same checks as the lint step of .ci/run and lists what still needs a hand (ruff
# rules without an automatic fix).
#
#   tools/format.sh            # format everything
#   tools/format.sh --check    # change nothing: exactly the lint step of .ci/run
set -euo pipefail
cd "$(dirname "$0")/.."

cxx_files() { git ls-files -co --exclude-standard -- 'csrc/*.h' 'csrc/*.cpp' 'csrc/*.cu' 'csrc/*.cuh'; }

if [[ "${1:-}" == "--check" ]]; then
  ruff check .
  ruff format --check .
  cxx_files | xargs -r clang-format --dry-run --Werror
  exit 0
fi
ruff check --fix --exit-zero --quiet .
ruff format .
cxx_files | xargs -r clang-format -i
echo "--- what is left for a hand (ruff rules without a safe automatic fix); exit status 1 while any is:"
status=0
ruff check . || status=1
ruff format --check --quiet . || status=1
cxx_files | xargs -r clang-format --dry-run --Werror || status=1
exit "$status"
