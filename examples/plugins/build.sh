#!/usr/bin/env bash
# Build the example plugins in other languages into OUT_DIR:
#   examples/plugins/build.sh OUT_DIR
# JavaScript (order-desk.wasm), Python (regex-intents.wasm), C (damage-report.wasm).
# A missing toolchain is an error naming the tool (install them with
# examples/plugins/install-toolchains.sh, which .ci/run calls). A plugin whose
# sources did not change since its last build is not rebuilt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
toolchains="${SMSDESK_TOOLCHAINS:-$HOME/.cache/smsdesk/toolchains}"

missing() {
  echo "error: building the $1 example plugin needs $2, which was not found." >&2
  echo "       Install it (examples/plugins/install-toolchains.sh installs every toolchain; .ci/run calls it)." >&2
  exit 1
}

# Rebuild only when the inputs changed: a stamp holds their hash.
fresh() {
  local name="$1"; shift
  local hash
  hash="$(cat "$@" "$repo"/wit/v0.1.0/*.wit | sha256sum | cut -d' ' -f1)"
  if [[ -f "$out/$name" && "$(cat "$out/.$name.stamp" 2>/dev/null)" == "$hash" ]]; then
    return 0
  fi
  echo "$hash" > "$out/.$name.stamp.new"
  return 1
}
stamp() { mv "$out/.$1.stamp.new" "$out/.$1.stamp"; }

# JavaScript: componentize-js through its API (build.mjs).
js="$here/js-responder"
if ! fresh order-desk.wasm "$js/responder.js" "$js/build.mjs" "$js/package-lock.json"; then
  command -v node >/dev/null || missing JavaScript "node (Node.js 20 or later)"
  command -v npm >/dev/null || missing JavaScript "npm"
  lock_hash="$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$js/node_modules/.smsdesk-lock" 2>/dev/null)" != "$lock_hash" ]]; then
    (cd "$js" && npm ci --no-audit --no-fund --prefer-offline >&2) || missing JavaScript "the npm packages in package-lock.json (npm ci failed)"
    echo "$lock_hash" > "$js/node_modules/.smsdesk-lock"
  fi
  node "$js/build.mjs" "$out/order-desk.wasm" >&2
  stamp order-desk.wasm
fi

# Python: componentize-py, with every WASI import stubbed out.
py="$here/python-classifier"
if ! fresh regex-intents.wasm "$py/app.py"; then
  cpy="$(command -v componentize-py || true)"
  [[ -z "$cpy" && -x "$toolchains/py/bin/componentize-py" ]] && cpy="$toolchains/py/bin/componentize-py"
  [[ -n "$cpy" ]] || missing Python "componentize-py 0.25 (pip install componentize-py==0.25.1)"
  (cd "$py" && "$cpy" -d "$repo/wit/v0.1.0" -w classifier-plugin componentize app --stub-wasi -o "$out/regex-intents.wasm" >&2)
  stamp regex-intents.wasm
fi

# C: clang for wasm32-wasi, bindings and componentize with smsdesk-plugin-tools.
c="$here/c-classifier"
if ! fresh damage-report.wasm "$c/damage.c" "$c/Makefile"; then
  command -v clang >/dev/null || missing C "clang (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32)"
  command -v wasm-ld >/dev/null || command -v wasm-ld-14 >/dev/null || missing C "wasm-ld (Debian: lld)"
  [[ -f /usr/include/wasm32-wasi/stdlib.h ]] || missing C "wasi-libc (Debian: wasi-libc)"
  command -v make >/dev/null || missing C "make"
  # The tool gets its own target directory, so a running cargo never waits on it.
  tools_target="$out/.plugin-tools-target"
  cargo build --quiet --release -p smsdesk-plugin-tools --manifest-path "$repo/Cargo.toml" --target-dir "$tools_target" >&2
  make -s -C "$c" OUT="$out/damage-report.wasm" BUILD="$out/.c-build" TOOLS="$tools_target/release/smsdesk-plugin-tools" >&2
  stamp damage-report.wasm
fi
# Sandbox probes for the host's tests (host/tests/guests-polyglot): a Python
# plugin with every WASI import kept, and a JavaScript plugin without wasi:http.
probes="$repo/host/tests/guests-polyglot"
if ! fresh py-probe.wasm "$probes/py-probe/app.py"; then
  (cd "$probes/py-probe" && "${cpy:-$toolchains/py/bin/componentize-py}" -d "$repo/wit/v0.1.0" -w classifier-plugin componentize app -o "$out/py-probe.wasm" >&2)
  stamp py-probe.wasm
fi
if ! fresh js-probe.wasm "$probes/js-probe/probe.js" "$probes/js-probe/build.mjs"; then
  node "$probes/js-probe/build.mjs" "$out/js-probe.wasm" >&2
  stamp js-probe.wasm
fi
echo "$out"
