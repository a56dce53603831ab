#!/usr/bin/env bash
# Installs the Debian 12 packages sd-worker builds and tests with. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libdnnl-dev libutf8proc-dev
  libboost-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev
  libspng-dev libjpeg-dev uuid-dev
  libgtest-dev libbenchmark-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
