#!/usr/bin/env bash
# The GPU checks of issue 10 as one prepared run on a lent NVIDIA GPU (Hopper: an H200),
# in two halves, because the device machine has the CUDA runtime, cuBLASLt and cuDNN but
# none of the project's other libraries (oneDNN, spng, libcurl...), and no ../shared:
#
#   scripts/device-check.sh pack [--build-dir DIR]
#       Here. Builds with -DSD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 (default build dir:
#       build), renders the tiny model's CPU float32 reference images, and writes
#       .device-check/bundle.tar.xz (git-ignored, about 16 MB): test_cuda, test_backend,
#       sd-generate, sd-bench, bench_cuda_ops, sd-worker-cuda, the CUDA backend library, every library they need except glibc,
#       libstdc++, cuBLASLt and cuDNN, the CLIP vocabulary, the SD1.5/SD2.1/SDXL configs
#       and the reference images.
#
#   scripts/device-check.sh run
#       There, from the repository root, with `.device-check` carried (the device tool's
#       `carry`). Finds that machine's newest libcublasLt.so.13 and libcudnn.so.9, then:
#       test_cuda (every kernel against a CPU reference), the conformance suite's cuda cases,
#       the tiny SD1.5 model (examples/tiny-sd15) on the GPU against the CPU float32 images
#       (at most 3 levels apart, f32; f16's difference is reported), sd-worker-cuda end to
#       end (scripts/device_worker_check.py), bench_cuda_ops, and sd-bench --device cuda in
#       fp16 for SD1.5 512, SD2.1 768 and SDXL 1024. With a diffusers source tree carried in
#       `.diffusers/src` (git-ignored; `git archive` of huggingface/diffusers' src/diffusers
#       without its pipelines, about 10 MB), diffusers' own UNet and VAE are timed on the same
#       GPU for the ratio (bench/diffusers_cuda.py). Steps start only within
#       DEVICE_CHECK_BUDGET seconds (default 420). Prints one JSON summary last (also written
#       to $OUT/summary.json when OUT is set) and exits non-zero when a check failed. About
#       two minutes on an H200 (measured 2026-12-04: 110 s without diffusers).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pack_dir="$root/.device-check"
cmd="${1:-}"
shift || true

# The tiny model's reference calls: sampler name -> extra flags.
samplers=(ddim euler_a dpmpp_2m)
tiny_args=(--model-path examples/tiny-sd15 --prompt "a photo of a cat" --negative-prompt "blurry"
           --steps 4 --guidance 7.5 --seed 42 --width 64 --height 64)

pack() {
  local build="$root/build"
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-dir) build="$2"; shift 2 ;;
      *) echo "device-check.sh pack: unknown option $1" >&2; exit 2 ;;
    esac
  done
  local data="${SD_TEST_DATA:-$root/../shared/data}"
  [ -f "$data/clip/vocab.json" ] || { echo "device-check.sh: no CLIP vocabulary in $data/clip" >&2; exit 1; }
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build "$build" -j2 --target test_cuda test_backend sd-generate sd-bench bench_cuda_ops sd-worker-cuda

  local stage
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/bin" "$stage/lib" "$stage/data/clip" "$stage/cpu" "$pack_dir"
  # libsd_backend_cuda.so: the CUDA backend the programs load from their own folder.
  for b in test_cuda test_backend sd-generate sd-bench bench_cuda_ops sd-worker-cuda libsd_backend_cuda.so; do
    cp "$build/bin/$b" "$stage/bin/" && strip "$stage/bin/$b"
  done
  # Every shared library they load, except the C runtime the device image has in a newer
  # version, and the CUDA libraries it has for its own driver (cuBLASLt alone is 540 MB).
  ldd "$stage"/bin/* | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libstdc++.so*|libgcc_s.so*) ;;
      libcublas*|libcudnn*|libcuda.so*) ;;
      *) cp -L "$lib" "$stage/lib/" ;;
    esac
  done
  cp "$data/clip/vocab.json" "$data/clip/merges.txt" "$stage/data/clip/"
  cp -r "$data/sd15-diffusers-configs" "$stage/data/sd15"
  cp -r "$data/model-configs/stabilityai__stable-diffusion-2-1" "$stage/data/sd21"
  cp -r "$data/model-configs/stabilityai__stable-diffusion-xl-base-1.0" "$stage/data/sdxl"
  for s in "${samplers[@]}"; do
    (cd "$root" && "$build/bin/sd-generate" "${tiny_args[@]}" --tokenizer-dir "$data/clip" --sampler "$s" \
       --dtype f32 --output "$stage/cpu/$s.png")
  done
  tar -C "$stage" -cJf "$pack_dir/bundle.tar.xz" .
  echo "wrote $pack_dir/bundle.tar.xz ($(du -h "$pack_dir/bundle.tar.xz" | cut -f1)); on the device: scripts/device-check.sh run, carrying .device-check"
}

# The directory of the newest `name*` (by version) under the usual places: the device image
# may hold several copies (the CUDA toolkit's, PyTorch's wheels).
find_lib_dir() {
  local name="$1" hit
  hit="$(find /usr/local /usr/lib /opt -xdev -name "$name*" -type f 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$hit" ] && dirname "$hit"
}

run() {
  local bundle="$pack_dir/bundle.tar.xz" work out
  [ -f "$bundle" ] || { echo "device-check.sh: $bundle missing: run 'scripts/device-check.sh pack' here first" >&2; exit 1; }
  # Steps start only while the run is inside this many seconds, so the device call ends in time.
  local budget="${DEVICE_CHECK_BUDGET:-420}"
  work="$(mktemp -d)"
  out="${OUT:-$work/out}"
  mkdir -p "$out"
  tar -C "$work" -xJf "$bundle"
  local libs="$work/lib"
  for name in libcublasLt.so.13 libcudnn.so.9; do
    local dir
    dir="$(find_lib_dir "$name")" || { echo "device-check.sh: $name not found on this machine" >&2; exit 1; }
    echo "using $dir for $name" >&2
    libs="$libs:$dir"
  done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local bin="$work/bin" results="$work/results"
  mkdir -p "$results"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$results/gpu.txt" 2>&1 || true
  { find /usr/local /usr/lib /opt -xdev \( -name 'libcudnn.so.9*' -o -name 'libcublasLt.so.13*' \) 2>/dev/null
    ldd "$bin"/* | grep -i "not found\|cud\|cublas" | sort -u; } > "$results/libs.txt" 2>&1 || true

  # Each step's status goes into results/<step>.status; a failure does not stop the others.
  step() {
    local name="$1" limit="$2"
    shift 2
    if [ "$SECONDS" -ge "$budget" ]; then
      echo "skipped: the run's budget of $budget s was spent" > "$results/$name.log"
      echo 125 > "$results/$name.status"
      echo "== $name: skipped" >&2
      return
    fi
    local rc=0
    timeout "$limit" "$@" > "$results/$name.log" 2>&1 || rc=$?
    echo "$rc" > "$results/$name.status"
    echo "== $name: exit $rc ($(tail -n 1 "$results/$name.log")) at ${SECONDS}s" >&2
  }
  step test_cuda 90 "$bin/test_cuda"
  step conformance_cuda 120 "$bin/test_backend" --gtest_filter='Backends/Conformance.*/cuda*:Backends.*'
  for s in "${samplers[@]}"; do
    for dt in f32 f16; do
      step "tiny_${s}_$dt" 45 "$bin/sd-generate" "${tiny_args[@]}" --tokenizer-dir "$work/data/clip" --sampler "$s" \
        --device cuda --dtype "$dt" --output "$results/${s}_$dt.png"
    done
  done
  step worker_cuda 60 python3 "$root/scripts/device_worker_check.py" "$bin/sd-worker-cuda" "$root/examples/tiny-sd15"
  step cuda_ops_f16 60 "$bin/bench_cuda_ops" --dtype f16 --reps 10
  step bench_sd15_512 90 "$bin/sd-bench" --config "$work/data/sd15" --device cuda --dtype f16 --width 512 --height 512 --repeat 5
  step bench_sd21_768 90 "$bin/sd-bench" --config "$work/data/sd21" --device cuda --dtype f16 --width 768 --height 768 --repeat 5
  step bench_sdxl_1024 120 "$bin/sd-bench" --config "$work/data/sdxl" --device cuda --dtype f16 --width 1024 --height 1024 --repeat 5
  if [ -d "$root/.diffusers/src" ]; then
    step diffusers_sd15_512 90 python3 "$root/bench/diffusers_cuda.py" --diffusers-src "$root/.diffusers/src" \
      --config "$work/data/sd15" --width 512 --height 512
    step diffusers_sdxl_1024 120 python3 "$root/bench/diffusers_cuda.py" --diffusers-src "$root/.diffusers/src" \
      --config "$work/data/sdxl" --width 1024 --height 1024
  fi
  # A failing kernel test again under compute-sanitizer, which names the bad access.
  if [ "$(cat "$results/test_cuda.status")" != 0 ] && command -v compute-sanitizer > /dev/null; then
    step sanitizer_test_cuda 90 compute-sanitizer --tool memcheck "$bin/test_cuda" --gtest_brief=1
  fi
  # The device tool brings back at most 8 files: the logs and GPU images travel as one.
  tar -C "$results" -czf "$out/logs.tgz" .

  python3 - "$work" "${samplers[@]}" <<'PY' | tee "$out/summary.json"
import json, sys, pathlib
import numpy as np
from PIL import Image

work = pathlib.Path(sys.argv[1]); samplers = sys.argv[2:]
res = work / "results"
def status(name):
    p = res / f"{name}.status"
    return int(p.read_text()) if p.exists() else None
def last_json(name):
    for line in reversed((res / f"{name}.log").read_text().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None
def gtest_counts(name):
    # "[  PASSED  ] 12 tests.", "[  FAILED  ] 1 test, listed below:", "[  SKIPPED ] ..."
    out = {"exit": status(name), "failed_tests": []}
    for line in (res / f"{name}.log").read_text().splitlines():
        if line.startswith("[  FAILED  ]") and "listed below" not in line and len(out["failed_tests"]) < 40:
            out["failed_tests"].append(line[13:].strip())
        parts = line.split()
        if len(parts) > 3 and parts[0] == "[" and parts[2] == "]" and parts[3].isdigit():
            out[parts[1].lower()] = int(parts[3])
    return out

summary = {"gpu": (res / "gpu.txt").read_text().strip(), "test_cuda": gtest_counts("test_cuda"),
           "conformance_cuda": gtest_counts("conformance_cuda"), "tiny_images": {}, "bench": {}}
ok = summary["test_cuda"]["exit"] == 0 and summary["conformance_cuda"]["exit"] == 0
for s in samplers:
    cpu = np.asarray(Image.open(work / "cpu" / f"{s}.png").convert("RGB"), dtype=np.int16)
    entry = {}
    for dt in ("f32", "f16"):
        png = res / f"{s}_{dt}.png"
        if status(f"tiny_{s}_{dt}") != 0 or not png.exists():
            entry[dt] = {"error": (res / f"tiny_{s}_{dt}.log").read_text().strip()[-300:]}
            ok = ok and dt != "f32"
            continue
        gpu = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
        diff = int(np.abs(gpu - cpu).max()) if gpu.shape == cpu.shape else None
        entry[dt] = {"max_level_diff": diff, "within_3": diff is not None and diff <= 3}
        if dt == "f32":
            ok = ok and entry[dt]["within_3"]
    summary["tiny_images"][s] = entry
for name in ("diffusers_sd15_512", "diffusers_sdxl_1024"):
    if status(name) is not None:
        summary["bench"][name] = (last_json(name) if status(name) == 0
                                  else {"error": (res / f"{name}.log").read_text().strip()[-300:]})
summary["worker_cuda"] = {"exit": status("worker_cuda"), "tail": (res / "worker_cuda.log").read_text().strip()[-400:]}
ok = ok and status("worker_cuda") == 0
for name in ("bench_sd15_512", "bench_sd21_768", "bench_sdxl_1024"):
    j = last_json(name) if status(name) == 0 else None
    if j is None:
        summary["bench"][name] = {"error": (res / f"{name}.log").read_text().strip()[-300:]}
        ok = False
        continue
    step_s = j["phases"]["unet_step"]["seconds"]
    j["it_per_s_20_steps"] = 1.0 / step_s
    j["image_20_steps_s"] = j["phases"]["text_encoder"]["seconds"] + 20 * step_s + j["phases"]["vae_decode"]["seconds"]
    summary["bench"][name] = j
summary["ok"] = ok
print(json.dumps(summary))
sys.exit(0 if ok else 1)
PY
}

case "$cmd" in
  pack) pack "$@" ;;
  run) run "$@" ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
