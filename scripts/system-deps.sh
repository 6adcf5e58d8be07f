#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing (apt-get update only then; sudo unless root).
#   pcscd, vsmartcard-vpcd   real PC/SC with virtual cards (the test harness starts its own private pcscd)
#   swig, libpcsclite-dev, gcc   pyscard builds from source
#   pcsc-tools               pcsc_scan and the ATR list, for looking at readers by hand
#   util-linux               unshare, which gives the private pcscd its own /run/pcscd
#   make                     the Makefile
#   softhsm2                 a software PKCS#11 token for the HSM key source tests
#   openjdk-17-jdk-headless, maven   the Java Card applets (built and tested on jCardSim); only when no JDK/Maven
set -euo pipefail

packages=(pcscd vsmartcard-vpcd swig libpcsclite-dev gcc pcsc-tools util-linux make softhsm2)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# This kind of machine usually ships a JDK and Maven outside Debian's packages: look for the commands.
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# Debian's own python3 needs python3-venv for `python3 -m venv`; pyenv builds carry ensurepip themselves.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
else
    as_root=(sudo)
fi
echo "system-deps: installing ${missing[*]}" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
