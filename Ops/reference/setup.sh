#!/usr/bin/env bash
# Creates the throwaway Python environment that runs the reference implementation
# (sentence-transformers on CPU torch) for benchmarks and cross-checks, and prints
# its python on stdout as the last line:
#
#   PY=$(Ops/reference/setup.sh | tail -1)
#   "$PY" Ops/reference/bench_reference.py --model models/all-MiniLM-L6-v2 ...
#
# The venv lives in $DRIFTLESS_CACHE/reference-venv. torch comes from a local CPU
# wheel in $DRIFTLESS_TORCH_WHEELS (default /opt/wheels) when one fits this Python,
# else from PyPI. Idempotent and cached: a stamp file records what was installed,
# and a run that finds the same request already installed does nothing else.
# Otherwise (no stamp, an interrupted install, other versions asked for) pip brings
# the venv to what is asked for.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PYTHON=${PYTHON:-python3}
VENV="$DRIFTLESS_CACHE/reference-venv"
STAMP="$VENV/.driftless-reference"
TORCH_WHEELS=${DRIFTLESS_TORCH_WHEELS:-/opt/wheels}
# Pinned so that reference numbers are comparable from run to run; override to try others.
ST_SPEC=${DRIFTLESS_ST_SPEC:-sentence-transformers==6.2.0}
TRANSFORMERS_SPEC=${DRIFTLESS_TRANSFORMERS_SPEC:-transformers==5.24.0}
# pytrec_eval (trec_eval's C code) scores runs for eval_reference.py.
TREC_EVAL_SPEC=${DRIFTLESS_TREC_EVAL_SPEC:-pytrec-eval-terrier==0.5.11}
# ONNX Runtime and its int8 dynamic quantization: the other baseline of Ops/bench.sh
# (bench_onnx.py exports the model with torch.onnx, which needs onnx and onnxscript).
ONNX_SPECS=${DRIFTLESS_ONNX_SPECS:-onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2}

command -v "$PYTHON" >/dev/null || die "reference: $PYTHON not found (set PYTHON=...)"

# The CPython tag of the interpreter, e.g. 311, picks the matching torch wheel.
pytag=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
pyversion=$("$PYTHON" -c 'import platform; print(platform.python_version())')

torch_wheel=""
if [ -d "$TORCH_WHEELS" ]; then
  torch_wheel=$(ls "$TORCH_WHEELS"/torch-*+cpu-cp"$pytag"-cp"$pytag"-*"$(uname -m)".whl 2>/dev/null \
    | sort -V | tail -1 || true)
fi
if [ -n "$torch_wheel" ]; then
  torch_spec="$torch_wheel"
else
  # PyPI's Linux torch wheels are the CUDA build (with nvidia-* dependencies, gigabytes);
  # they run on CPU all the same. Override with DRIFTLESS_TORCH_SPEC for something else.
  torch_spec=${DRIFTLESS_TORCH_SPEC:-torch}
fi

# What this run asks for; the stamp's first line must equal it for the fast path.
want="python=$pyversion torch=$(basename "$torch_spec") $ST_SPEC $TRANSFORMERS_SPEC $TREC_EVAL_SPEC $ONNX_SPECS"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(head -1 "$STAMP")" = "$want" ]; then
  log "reference: venv present ($(sed -n 2p "$STAMP"))"
  echo "$VENV/bin/python"
  exit 0
fi

# A venv whose interpreter still runs and is the same Python is updated in place
# (pip keeps what already fits); otherwise it is made anew.
venv_version=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())' 2>/dev/null || true)
if [ "$venv_version" != "$pyversion" ]; then
  if [ -e "$VENV" ]; then
    log "reference: rebuilding $VENV (its Python is ${venv_version:-broken}, want $pyversion)"
    rm -rf "$VENV"
  fi
  mkdir -p "$DRIFTLESS_CACHE"
  log "reference: creating venv $VENV with Python $pyversion"
  "$PYTHON" -m venv "$VENV"
else
  log "reference: updating $VENV (stamp missing or different)"
fi
if [ -n "$torch_wheel" ]; then
  log "reference: installing torch from $torch_wheel"
else
  log "reference: warning: no CPU torch wheel for cp$pytag in $TORCH_WHEELS; installing $torch_spec from PyPI"
fi
log "reference: installing $ST_SPEC $TRANSFORMERS_SPEC $TREC_EVAL_SPEC $ONNX_SPECS from PyPI"
# pip's own output goes to stderr: stdout carries only the python path.
# shellcheck disable=SC2086  # ONNX_SPECS is a list of specifiers
"$VENV/bin/python" -m pip install --quiet "$torch_spec" "$ST_SPEC" "$TRANSFORMERS_SPEC" "$TREC_EVAL_SPEC" $ONNX_SPECS >&2

# Check the install imports, and record the versions it got.
versions=$("$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import onnxruntime, pytrec_eval, sentence_transformers, torch, transformers  # noqa: F401  (must import)
print(" ".join(f"{p}={md.version(p)}" for p in ("torch", "sentence-transformers", "transformers", "onnxruntime")))
EOF
) || die "reference: the new venv cannot import torch / sentence-transformers"
printf '%s\n%s\n' "$want" "$versions" > "$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
log "reference: installed $versions"
echo "$VENV/bin/python"
