#!/usr/bin/env bash
# Builds the Pulumi CLI and the Go language host that labfleet pins into tools/bin, from the Go
# module proxy, for machines with no `pulumi` on PATH (the Makefile puts tools/bin on PATH).
#   tools/build.sh [pulumi] [pulumi-language-go]     (default: both)
# A binary already built from the pinned version is kept, so a second run is instant; about
# 6 CPU-minutes the first time (GOMODCACHE and GOCACHE, outside the project, stay warm).
set -euo pipefail
cd "$(dirname "$0")"
bin=$PWD/bin
log() { printf '[tools] %s\n' "$*"; }

# Both binaries read their version from this variable; an unset one reports an empty version.
version_var=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
# The CLI is a `tool` of this module at the pkg/v3 version its go.mod pins. This module also
# copies pkg/v3's replace of github.com/atotto/clipboard: a dependency's replaces do not apply.
cli_version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
# The Go language host is no module of its own: sdk/v3 carried it up to v3.62.0, and it builds
# only inside that module's directory (`go install` refuses its replace directives). This old
# host drives the new CLI fine.
language_go_version=v3.62.0

# built_from NAME VERSION: NAME is in bin and was linked with VERSION.
built_from() {
  [[ -x $bin/$1 ]] && go version -m "$bin/$1" 2>/dev/null | grep -F -- "-X $version_var=$2\"" >/dev/null
}

build_cli() {
  built_from pulumi "$cli_version" && return
  log "building pulumi $cli_version (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) into $bin"
  CGO_ENABLED=0 go build -o "$bin/pulumi" -ldflags "-X $version_var=$cli_version" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# In a subshell: the EXIT trap removes the copy whatever happens.
build_language_go() (
  built_from pulumi-language-go "$language_go_version" && exit 0
  log "building pulumi-language-go $language_go_version (github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go) into $bin"
  sdk=github.com/pulumi/pulumi/sdk/v3@$language_go_version
  # Stops with what go printed (its "Error", or JSON without the directory) and why.
  no_module() { printf '%s\n' "$download" >&2; echo "tools/build.sh: go mod download $sdk: $1 (its output is above)" >&2; exit 1; }
  download=$(go mod download -json "$sdk") || no_module "failed"
  module=$(sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' <<<"$download")
  # An empty directory here would make the copy below `cp -r /. ...`: the whole filesystem.
  [[ -n $module && -d $module/go/pulumi-language-go ]] || no_module "no module directory holding go/pulumi-language-go (Dir: \"$module\")"
  # The module cache is read-only, and the build writes go.sum entries: build in a copy.
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  cp -r "$module/." "$src"
  chmod -R u+w "$src"
  cd "$src"
  CGO_ENABLED=0 go build -o "$bin/pulumi-language-go" -ldflags "-X $version_var=$language_go_version" ./go/pulumi-language-go
)

(($#)) || set -- pulumi pulumi-language-go
mkdir -p "$bin"
for tool in "$@"; do
  case $tool in
    pulumi) build_cli ;;
    pulumi-language-go) build_language_go ;;
    *) echo "tools/build.sh: unknown tool $tool (pulumi, pulumi-language-go)" >&2; exit 2 ;;
  esac
done
