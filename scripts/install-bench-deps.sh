#!/usr/bin/env bash
# Installs the Debian packages the benchmarks need beyond the build (scripts/install-deps.sh):
# python3-gensim + python3-numpy for scripts/text_embeddings.py (real-text embedding datasets).
# Idempotent, like install-deps.sh, which does the work. Those scripts must be run with
# /usr/bin/python3 (the Debian interpreter that sees these packages), not a pyenv shim that
# may be first on PATH.
set -euo pipefail
exec bash "$(dirname "$0")/install-deps.sh" python3 python3-numpy python3-gensim
