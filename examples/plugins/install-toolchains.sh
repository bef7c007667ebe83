#!/usr/bin/env bash
# Install the toolchains the example plugins need, pinned, into caches that
# survive between runs. Idempotent: what is installed is left alone.
#   - C: Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32 (apt)
#   - Python: componentize-py 0.25.1 in a virtualenv under $SMSDESK_TOOLCHAINS
#   - JavaScript: componentize-js 0.23.0 (package-lock.json) with npm ci
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
toolchains="${SMSDESK_TOOLCHAINS:-$HOME/.cache/smsdesk/toolchains}"
mkdir -p "$toolchains"

need_apt=()
command -v clang >/dev/null || need_apt+=(clang)
command -v wasm-ld >/dev/null || need_apt+=(lld)
[[ -f /usr/include/wasm32-wasi/stdlib.h ]] || need_apt+=(wasi-libc)
ls /usr/lib/llvm-14/lib/clang/14*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || need_apt+=(libclang-rt-14-dev-wasm32)
if (( ${#need_apt[@]} )); then
  echo "installing ${need_apt[*]} (apt)" >&2
  sudo=""; [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -q >&2 || { echo "error: apt-get update failed; install ${need_apt[*]} by hand" >&2; exit 1; }
  $sudo apt-get install -y -q "${need_apt[@]}" >&2 || { echo "error: could not install ${need_apt[*]}" >&2; exit 1; }
fi

if [[ ! -x "$toolchains/py/bin/componentize-py" ]] || ! "$toolchains/py/bin/componentize-py" --version 2>/dev/null | grep -q "0.25.1"; then
  command -v python3 >/dev/null || { echo "error: python3 is needed to install componentize-py" >&2; exit 1; }
  echo "installing componentize-py 0.25.1 into $toolchains/py" >&2
  python3 -m venv "$toolchains/py" >&2
  "$toolchains/py/bin/pip" install -q --cache-dir "$toolchains/pip-cache" componentize-py==0.25.1 >&2
fi

# node_modules is (re)installed whenever package-lock.json changed.
js="$here/js-responder"
lock_hash="$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$js/node_modules/.smsdesk-lock" 2>/dev/null)" != "$lock_hash" ]]; then
  command -v npm >/dev/null || { echo "error: npm (Node.js 20 or later) is needed for the JavaScript example" >&2; exit 1; }
  echo "installing componentize-js (npm ci)" >&2
  (cd "$js" && npm ci --no-audit --no-fund --prefer-offline --cache "$toolchains/npm-cache" >&2)
  echo "$lock_hash" > "$js/node_modules/.smsdesk-lock"
fi
