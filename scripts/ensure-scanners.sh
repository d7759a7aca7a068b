#!/usr/bin/env bash
# Install the programs kat's binary-backed boefjes run (nmap, testssl.sh, masscan) from
# Debian packages when we are root and they are missing; otherwise say what is missing.
# A missing scanner never breaks kat: its boefjes fail as `missing-dependency`, and
# `kat plugins` shows which plugins can run on this machine.
set -euo pipefail

# program -> Debian package
declare -A packages=([nmap]=nmap [testssl]=testssl.sh [masscan]=masscan)

missing=()
for program in "${!packages[@]}"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("${packages[$program]}")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "scanners: nmap, testssl, masscan installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "scanners: not installed: ${missing[*]} (as root: apt-get install ${missing[*]});" \
         "their boefjes will fail as missing-dependency" >&2
    exit "${KAT_SCANNERS_REQUIRED:-0}"
fi

echo "scanners: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
