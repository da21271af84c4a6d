#!/usr/bin/env bash
# mypy (with the pydantic plugin, mypy.ini) over the layer, tools/ and every function.
#
# One run for the layer (eventlog, eventlog_api) and tools/ (the `files` of mypy.ini), then one
# per functions/<name>/: each folder is a flat set of top-level modules, and every folder has
# an app.py, so no single run can hold two of them. The runs
# share mypy's cache: the layer is analysed once. Exits non-zero if any run finds an error.
#
# Usage: tools/typecheck.sh [MYPY]   (default: .venv/bin/mypy, else mypy on the PATH)
set -euo pipefail

cd "$(dirname "$0")/.."
mypy=${1:-.venv/bin/mypy}
if [[ ! -x $mypy ]]; then
    mypy=mypy
fi

failed=()
echo "mypy: layers/common/python, tools/"
"$mypy" --config-file mypy.ini || failed+=("layers/common/python, tools/")
echo "mypy: clients/python (Python 3.9, the SDK's floor)"
"$mypy" --config-file mypy.ini --python-version 3.9 --disallow-untyped-defs \
    clients/python/src/eventlog_client || failed+=("clients/python")
for folder in functions/*/; do
    folder=${folder%/}
    echo "mypy: $folder"
    "$mypy" --config-file mypy.ini "$folder" || failed+=("$folder")
done

if ((${#failed[@]})); then
    printf 'mypy found errors in: %s\n' "${failed[@]}" >&2
    exit 1
fi
