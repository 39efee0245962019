#!/usr/bin/env bash
# Install the simulators circnn's tests need, through apt-get, when missing:
#   iverilog  (Debian package iverilog)   cocotb's simulator
#   verilator (Debian package verilator)  the lint gate (--lint-only)
# Needs root (or password-less sudo) only when something is missing.
set -euo pipefail

missing=()
command -v iverilog  >/dev/null 2>&1 || missing+=(iverilog)
command -v verilator >/dev/null 2>&1 || missing+=(verilator)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "circnn: ${missing[*]} not found, and installing it needs root." >&2
    echo "circnn: run as root, or install it yourself:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "circnn: ${missing[*]} not found and apt-get is not available; install ${missing[*]} with your package manager" >&2
    exit 1
fi
echo "circnn: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
