#!/usr/bin/env bash
# Create .venv (Python >= 3.11) when missing and install circnn into it.
# On a fresh Debian 12, `python3 -m venv` needs the python3-venv package:
# it is installed with apt-get when venv creation fails for that reason.
set -euo pipefail
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}

"$PYTHON" - <<'PY' || { echo "circnn: Python >= 3.11 is required ($PYTHON is older)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x "$VENV/bin/python" ]; then
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        echo "circnn: python3 -m venv failed; installing python3-venv with apt-get" >&2
        if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
            echo "circnn: installing python3-venv needs root: sudo apt-get install -y python3-venv" >&2; exit 1; fi
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq python3-venv python3-pip >/dev/null
        "$PYTHON" -m venv "$VENV"
    fi
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,torch]"
