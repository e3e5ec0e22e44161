#!/usr/bin/env bash
# Installs the Debian packages the benchmarks need beyond the build (scripts/install-deps.sh):
# python3-gensim + python3-numpy for scripts/text_embeddings.py (real-text embedding datasets).
# Idempotent: packages already present are skipped, and apt-get update runs only when
# something is missing. Those scripts must be run with /usr/bin/python3 (the Debian
# interpreter that sees these packages), not a pyenv shim that may be first on PATH.
set -euo pipefail

packages=(
  python3 python3-numpy python3-gensim   # Word2Vec training + fvecs writing
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-bench-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
