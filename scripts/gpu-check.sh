#!/usr/bin/env bash
# The GPU check (docs/gpu.md): builds the CUDA backend, runs every GPU test and
# the GPU benchmark (Plexus and PyTorch on the same GPU, side by side) on a
# machine with an NVIDIA GPU, nvcc, CMake, a C compiler and PyTorch but none of
# Debian's -dev packages and no network. The libraries Plexus builds against
# (HDF5, jansson, zlib, libzip, libpng, libjpeg and what they load) travel
# with the tree, packed here.
#
# Usage:
#   scripts/gpu-check.sh pack [DIR]  on a Debian machine with scripts/setup.sh's
#                                    packages: copies those headers and libraries
#                                    into DIR (default .gpudeps, ignored by git)
#   scripts/gpu-check.sh [DIR]       on the GPU machine: builds build-gpu/ against
#                                    DIR, runs the GPU tests (a test that skips
#                                    fails here), the reference-device tests and
#                                    the benchmark; exit status 0 when all pass
# Environment: OUT (where the log and bench.txt go; default build-gpu/gpu-check),
# PYTHON (the python3 with torch; default python3), PX_GPU_CHECK_BUILD_ONLY=1
# (configure and build only: checks the script on a machine without a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."

# --- pack: what the build needs from this Debian machine ---------------------
pack() {
    local dir=${1:-.gpudeps} ml
    ml=/usr/lib/$(gcc -print-multiarch)
    rm -rf "$dir" && mkdir -p "$dir/include" "$dir/lib" || return 1
    cp -a /usr/include/hdf5/serial/. "$dir/include/" || return 1
    cp /usr/include/jansson.h /usr/include/jansson_config.h /usr/include/zlib.h /usr/include/zconf.h \
        /usr/include/zip.h /usr/include/zipconf.h /usr/include/libpng16/png.h /usr/include/libpng16/pngconf.h \
        /usr/include/libpng16/pnglibconf.h /usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h \
        "/usr/include/$(gcc -print-multiarch)/jconfig.h" "$dir/include/" || return 1
    # each library under its soname, and the name the linker looks for
    local link real so
    for link in libhdf5:libhdf5_serial.so libjansson:libjansson.so libz:libz.so libzip:libzip.so libpng:libpng16.so \
        libjpeg:libjpeg.so; do
        real=$(readlink -f "$ml/${link#*:}") || return 1
        so=$(objdump -p "$real" | awk '/SONAME/ {print $2}')
        cp "$real" "$dir/lib/$so" && ln -sf "$so" "$dir/lib/${link%%:*}.so" || return 1
    done
    # the libraries those load, except the C library's own (every machine has them)
    ldd "$dir"/lib/*.so.* | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r so path; do
        case "$so" in
        libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | ld-linux*) ;;
        *) [[ -e "$dir/lib/$so" ]] || cp "$(readlink -f "$path")" "$dir/lib/$so" ;;
        esac
    done
    echo "gpu-check: packed $(ls "$dir/lib" | wc -l) libraries ($(du -sh "$dir" | cut -f1)) into $dir"
}

if [[ "${1:-}" == "pack" ]]; then
    pack "${2:-}"
    exit
fi

# --- check: on the GPU machine ------------------------------------------------
deps=$(readlink -f "${1:-.gpudeps}")
bld=build-gpu
out=${OUT:-$bld/gpu-check}
py=${PYTHON:-python3}
mkdir -p "$out" "$bld"
exec > >(tee "$out/gpu-check.log") 2>&1
failed=()
fail() { failed+=("$1"); echo "gpu-check: FAILED: $1"; }
started=$(date +%s)

[[ -f "$deps/include/hdf5.h" ]] || { echo "gpu-check: $deps has no packed libraries: run 'scripts/gpu-check.sh pack' on a Debian machine first"; exit 1; }
nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null) || { echo "gpu-check: no nvcc"; exit 1; }
command -v cmake >/dev/null && command -v cc >/dev/null || { echo "gpu-check: needs cmake and cc"; exit 1; }
nvidia-smi -L || [[ "${PX_GPU_CHECK_BUILD_ONLY:-}" == 1 ]] || { echo "gpu-check: nvidia-smi sees no GPU"; exit 1; }
"$nvcc" --version | tail -1

# The packed libraries this machine lacks (by soname), for the programs to load;
# the linker sees all of them (-rpath-link) to resolve what HDF5 needs.
runlibs=$(readlink -f "$bld")/deps-run
rm -rf "$runlibs" && mkdir -p "$runlibs"
have=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null)
for f in "$deps"/lib/*.so.*; do
    so=$(basename "$f")
    grep -q "^[[:space:]]*$so " <<<"$have" || ln -s "$f" "$runlibs/$so"
done
echo "gpu-check: packed libraries used at run time: $(ls "$runlibs" | tr '\n' ' ')"

# cuDNN beside nvcc, else the one PyTorch's wheels carry (no unversioned
# libcudnn.so there: a folder of links gives CMake one).
cudnn_opt=()
cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
if [[ ! -e "$cuda_root/include/cudnn.h" ]]; then
    cudnn=$("$py" -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
    if [[ -n "$cudnn" && -e "$cudnn/include/cudnn.h" ]]; then
        rm -rf "$bld/cudnn" && mkdir -p "$bld/cudnn/lib"
        ln -s "$cudnn/include" "$bld/cudnn/include"
        ln -s "$cudnn"/lib/* "$bld/cudnn/lib/"
        ln -sf "$(basename "$(ls "$cudnn"/lib/libcudnn.so.* | head -1)")" "$bld/cudnn/lib/libcudnn.so"
        cudnn_opt=(-DCUDNN_ROOT="$(readlink -f "$bld/cudnn")")
        runlibs="$runlibs:$cudnn/lib"
    fi
fi

omp=ON
printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() < 0; }\n' >"$bld/omp.c"
cc -fopenmp "$bld/omp.c" -o "$bld/omp" 2>/dev/null || omp=OFF
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[[ -f "$bld/CMakeCache.txt" ]] && gen=()

echo "== configure and build ($(nproc) cores, OpenMP $omp) =="
cmake -S . -B "$bld" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" -DPX_CUDA=ON \
    -DPX_BLAS=builtin -DPX_MPI=OFF -DPX_OPENMP=$omp -DPX_BUILD_EXAMPLES=OFF \
    -DHDF5_ROOT="$deps" -DZLIB_ROOT="$deps" -DJANSSON_ROOT="$deps" -DPNG_ROOT="$deps" -DJPEG_ROOT="$deps" \
    -DCMAKE_PREFIX_PATH="$deps" "${cudnn_opt[@]}" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$deps/lib" -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$deps/lib" \
    -DCMAKE_MODULE_LINKER_FLAGS="-Wl,-rpath-link,$deps/lib" || { echo "gpu-check: configure failed"; exit 1; }
gpu_tests=(test_gpu_ops test_gpu_training test_gpu_comm)
ref_tests=(test_devices test_ref_ops test_session_device test_device_fit test_optim_device)
# op tests run whole with every session on the GPU (PX_DEVICE=cuda:0)
on_gpu_tests=(test_rnn test_rnn_general)
cmake --build "$bld" -j"$(nproc)" --target plexus_cuda plexus_cli bench_device "${gpu_tests[@]}" "${ref_tests[@]}" \
    "${on_gpu_tests[@]}" ||
    { echo "gpu-check: build failed"; exit 1; }
echo "gpu-check: built in $(($(date +%s) - started)) s"
if [[ "${PX_GPU_CHECK_BUILD_ONLY:-}" == 1 ]]; then exit 0; fi
export LD_LIBRARY_PATH="$runlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PX_TEST_DATA=$PWD/tests/data

echo "== devices =="
"$bld/tools/plexus" devices || fail "plexus devices"

echo "== tests =="
# Every GPU test must run here: a skip (77) means the GPU was not used.
for t in "${gpu_tests[@]}" "${ref_tests[@]}"; do
    t0=$(date +%s)
    (cd tests && timeout 300 "../$bld/tests/$t")
    rc=$?
    echo "gpu-check: $t exit $rc ($(($(date +%s) - t0)) s)"
    ((rc == 0)) || fail "$t (exit $rc$( ((rc == 77)) && echo ': skipped'))"
done
for t in "${on_gpu_tests[@]}"; do
    t0=$(date +%s)
    (cd tests && PX_DEVICE=cuda:0 timeout 300 "../$bld/tests/$t")
    rc=$?
    echo "gpu-check: $t on cuda:0 exit $rc ($(($(date +%s) - t0)) s)"
    ((rc == 0)) || fail "$t on cuda:0 (exit $rc)"
done

echo "== benchmark: seconds per epoch, 20000 synthetic images, median of 3 epochs =="
"$py" -c 'import torch; assert torch.cuda.is_available(); print("torch", torch.__version__, torch.cuda.get_device_name(0))' ||
    fail "PyTorch with CUDA"
printf '%-8s %6s %12s %12s %14s\n' model batch plexus_s torch_s torch/plexus | tee "$out/bench.txt"
for spec in "mlp 32" "mlp 64" "mlp 256" "convnet 32" "convnet 64" "convnet 256"; do
    set -- $spec
    p=$(timeout 180 "$bld/bench/bench_device" cuda:0 "$1" "$2" 20000 3 | awk '{print $(NF-2)}')
    q=$(timeout 180 "$py" bench/torch_device.py cuda:0 "$1" "$2" 20000 3 | awk '{print $(NF-2)}')
    [[ -n "$p" ]] || fail "bench_device $spec"
    [[ -n "$q" ]] || fail "torch_device.py $spec"
    r=$(awk -v p="${p:-0}" -v q="${q:-0}" 'BEGIN { if (p > 0 && q > 0) printf "%.2f", q / p; else print "-" }')
    printf '%-8s %6s %12s %12s %14s\n' "$1" "$2" "${p:--}" "${q:--}" "$r" | tee -a "$out/bench.txt"
done

echo "gpu-check: $(($(date +%s) - started)) s in all"
if ((${#failed[@]})); then
    printf 'gpu-check: FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "gpu-check: all passed"
