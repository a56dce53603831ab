#!/usr/bin/env bash
# Installs the Debian 12 packages sd-worker builds and tests with. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libdnnl-dev libutf8proc-dev
  libboost-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev
  libspng-dev libjpeg-dev libwebp-dev libssl-dev uuid-dev
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev  # libFuzzer with ASan/UBSan for tests/fuzz
  chromium
  python3-prometheus-client  # tests read /metrics with the Prometheus client's parser
  python3 python3-requests  # tests/a1111: A1111's API as its users script it
)
# The web page's browser test runs on node (Debian 12's is 18 with npm 9); a node that
# is already there (another packaging) is used as it is.
if ! command -v node >/dev/null; then packages+=(nodejs npm); fi
cd "$(dirname "$0")/.."
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# playwright-core for tests/web and the openai SDK for tests/openai, exactly as locked;
# again only when a lock changed.
for dir in tests/web tests/openai; do
  if [ ! -f $dir/node_modules/.package-lock.json ] || [ $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]; then
    (cd $dir && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
