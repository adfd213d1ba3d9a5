#!/usr/bin/env bash
# The GPU measurements of mirrorlab, one stage per call of the device tool.
#
#   scripts/gpu-session.sh prepare    HERE (pip can reach the index): wheels into .whl/
#                                     (brian2, brian2cuda, tomli-w, cython, and mirrorlab
#                                     itself built from this tree)
# then, on the device machine (the tool's `run`, carry [".whl"], timeout_s 600), one per call:
#   scripts/gpu-session.sh tests      cuda-marked tests, the CUDA code-generation test and
#                                     the real CUDA compile test          (~3 min)
#   scripts/gpu-session.sh layer      benchmarks/devices.py: widths 100..4000 on runtime
#                                     (<= 1000), cpp_standalone (all cores), cuda_standalone,
#                                     with the copy-bandwidth test          (~5-8 min)
#   scripts/gpu-session.sh epoch      one epoch of configs/gpu_wm_784.toml on cuda, and the
#                                     matrix engine over the same events    (~5 min)
#
# Each device stage installs the wheels into /tmp/site (the image's python3 already has
# numpy, scipy, matplotlib, scikit-learn, tqdm, sympy, jinja2, pytest, hypothesis,
# nvidia-curand and nvcc 13) and writes its log and results under $OUT (or ./gpu-out
# when OUT is unset). LAYER_WIDTHS, LAYER_DEVICES, LAYER_DURATION override the layer stage.
set -uo pipefail
cd "$(dirname "$0")/.."
stage=${1:-}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

prepare() {
    local py=${PYTHON:-python3}
    rm -rf .whl && mkdir -p .whl
    "$py" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl \
        brian2==2.10.1 brian2cuda==1.0b1 tomli-w==1.2.0 cython==3.1.3 || return 1
    "$py" -m pip wheel --no-deps --no-build-isolation -w .whl . || return 1
    ls -la .whl
    du -sh .whl
}

setup() {
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "wheel install failed (run prepare here first)"; exit 1; }
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
    nvidia-smi -L
    nvcc --version | tail -2
    python3 -c "import brian2, brian2cuda, mirrorlab, numpy; print('brian2', brian2.__version__, \
'brian2cuda', brian2cuda.__version__, 'numpy', numpy.__version__, 'mirrorlab from', mirrorlab.__file__)"
}

case "$stage" in
prepare)
    prepare ;;
tests)
    setup
    # every test of both files: the default ones, the cuda-marked ones and the slow compile
    python3 -m pytest -p no:cacheprovider -ra --durations=0 -m "slow or not slow" \
        tests/test_gpu.py tests/test_devices.py 2>&1 | tee "$OUT/tests.log" ;;
layer)
    setup
    python3 benchmarks/devices.py layer --widths "${LAYER_WIDTHS:-100,300,1000,2000,4000}" \
        --devices "${LAYER_DEVICES:-runtime,cpp,cuda}" --duration "${LAYER_DURATION:-0.05}" \
        --out "$OUT/layer" 2>&1 | grep -v '^INFO' | tee "$OUT/layer.log" ;;
epoch)
    setup
    python3 benchmarks/devices.py epoch --config configs/gpu_wm_784.toml --device cuda \
        --out "$OUT/epoch" --run-dir /tmp/gpu_epoch_run 2>&1 | grep -v '^INFO' \
        | tee "$OUT/epoch.log"
    cp /tmp/gpu_epoch_run/metrics.json "$OUT/epoch/" 2>/dev/null ;;
*)
    sed -n '2,22p' "$0"; exit 2 ;;
esac
