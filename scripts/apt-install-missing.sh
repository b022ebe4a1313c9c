#!/usr/bin/env bash
# Install the Debian packages given (the callers pass only those that are missing); with sudo unless root.
# Usage: bash scripts/apt-install-missing.sh WHAT PACKAGE...   (WHAT names them in the one line it prints)
set -euo pipefail
what=$1
shift
[ $# -eq 0 ] && exit 0
echo "installing ${what}: $*"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
