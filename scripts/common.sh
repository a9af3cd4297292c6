# Shared by scripts/demo and scripts/test: install what is missing (Debian 12,
# apt, only when missing) and build. Sourced, not run.

# The Debian packages the build needs.
build_packages=(
  g++ cmake ninja-build
  libboost1.81-dev libboost-url1.81-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev doctest-dev
  libzstd-dev pkg-config zstd
)
# The tests start servers written by others (the interop matrix: Python's
# websockets, aiohttp, tornado and autobahn, websocketd, Node's ws, nginx in
# front of one), make a test CA with the openssl command, and build the
# libFuzzer targets with clang.
test_packages=(
  python3 python3-websockets python3-aiohttp python3-tornado python3-autobahn
  websocketd nodejs node-ws nginx openssl procps
  clang libfuzzer-14-dev
)

ensure_packages() {
  local missing=()
  local package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  if ((EUID != 0)); then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# configure_and_build BUILD_DIR [CMAKE_ARGS...] -- [TARGETS...]
configure_and_build() {
  local dir=$1
  shift
  local cmake_args=() targets=()
  while (($#)) && [[ $1 != -- ]]; do
    cmake_args+=("$1")
    shift
  done
  if (($#)); then
    shift
    targets=("$@")
  fi
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_args[@]}" >&2
  # Two cores and several large Beast translation units: two jobs at most.
  cmake --build "$dir" --parallel 2 ${targets[@]:+--target "${targets[@]}"} >&2
}
