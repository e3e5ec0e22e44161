#!/usr/bin/env bash
# Installs every Debian package fathom needs to build, test and benchmark, or, given
# package names as arguments, exactly those (scripts/install-bench-deps.sh).
# Idempotent: packages already present are skipped, so `make` stays fast once set up.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git clang   # clang: libFuzzer targets (make fuzz)
  libboost-dev            # Boost.Beast + Asio (HTTP server)
  libsimdjson-dev rapidjson-dev
  libxxhash-dev libzstd-dev
  libcurl4-openssl-dev    # S3Store (src/io/s3_store.cc): HTTP, TLS, SigV4 signing
  liburing-dev            # batched reads of vector blocks (src/io/uring_reads.cc)
  libroaring-dev libre2-dev
  libstemmer-dev          # Snowball stemmers for the text analyzer (src/index/text/)
  libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libsqlite3-dev libhnswlib-dev   # peers measured side by side in bench/ only
  libxapian-dev liblucene8-java default-jdk-headless   # BM25 peers (bench/text_bench)
  libfaiss-dev libopenblas0-openmp   # FAISS IVF-Flat peer (bench/vector_bench); OpenBLAS for its k-means
  nodejs npm curl         # conformance suite (Chroma's JS client tests), HTTP tests
  nginx-core              # docs/deploy: several nodes behind nginx, tested (tests/deploy/)
)

if [ $# -gt 0 ]; then packages=("$@"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm may come bundled with a nodejs package from another source; accept any working npm.
if [ ${#missing[@]} -gt 0 ]; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 || filtered+=("$p") ;;
      npm) command -v npm >/dev/null 2>&1 || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
