#!/usr/bin/env bash
# hack/envtest/build.sh: kube-apiserver, kubectl and etcd for envtest, built
# from source through the Go module proxy and cached per version outside the
# repository.
#
#   export KUBEBUILDER_ASSETS="$(hack/envtest/build.sh)"
#
# The last line on stdout is the directory holding kube-apiserver, etcd and
# kubectl; everything else goes to stderr. When that directory already holds
# binaries that run and report the expected versions, the script returns at
# once. Otherwise it builds them (a cold build takes several minutes on 2
# cores), checks them, and renames the finished directory into place, so an
# interrupted or failed build never leaves a half-filled cache.
#
# Options:
#   --check   print the directory if the cache is good, else exit 1; never build
#   --force   rebuild even if the cache is good
#   -h|--help this text
#
# Environment:
#   PORTCULLIS_CACHE        cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/portcullis);
#                           binaries go to $PORTCULLIS_CACHE/envtest/k8s-<v>-etcd-<v>/
#   PORTCULLIS_NICE         niceness for the go builds (default 10)
#   PORTCULLIS_ENVTEST_KEEP=1  keep the scratch build directory on failure
#   GOPROXY, GOMODCACHE, GOCACHE, GOTOOLCHAIN are honoured; "direct" is
#   dropped from GOPROXY so that only the module proxy is used.
set -euo pipefail

# --- versions -----------------------------------------------------------------
K8S_VERSION="v1.35.4"   # k8s.io/kubernetes: cmd/kube-apiserver, cmd/kubectl
ETCD_VERSION="v3.6.16"  # go.etcd.io/etcd/server/v3: etcdmain
# The staging modules (k8s.io/api, ...) of kubernetes v1.X.Y are tagged v0.X.Y.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
# ------------------------------------------------------------------------------

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${PORTCULLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis}"
ENVTEST_ROOT="$CACHE_ROOT/envtest"
DEST="$ENVTEST_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
NICE="${PORTCULLIS_NICE:-10}"

log() { printf 'envtest-build: %s\n' "$*" >&2; }
die() { printf 'envtest-build: error: %s\n' "$*" >&2; exit 1; }

mode=build
for arg in "$@"; do
	case "$arg" in
	--check) mode=check ;;
	--force) mode=force ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) die "unknown argument: $arg (see --help)" ;;
	esac
done

# verify DIR: the three binaries exist, run, and report the pinned versions.
verify() {
	local dir="$1" out
	for b in kube-apiserver etcd kubectl; do
		[[ -x "$dir/$b" ]] || { log "$dir/$b: missing or not executable"; return 1; }
	done
	out="$(timeout 30 "$dir/kube-apiserver" --version 2>&1)" || { log "kube-apiserver --version failed: $out"; return 1; }
	[[ "$out" == "Kubernetes $K8S_VERSION" ]] || { log "kube-apiserver --version: got '$out', want 'Kubernetes $K8S_VERSION'"; return 1; }
	out="$(timeout 30 "$dir/etcd" --version 2>&1)" || { log "etcd --version failed: $out"; return 1; }
	grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out" || { log "etcd --version: got '$out', want 'etcd Version: ${ETCD_VERSION#v}'"; return 1; }
	out="$(timeout 30 "$dir/kubectl" version --client 2>&1)" || { log "kubectl version --client failed: $out"; return 1; }
	grep -qx "Client Version: $K8S_VERSION" <<<"$out" || { log "kubectl version --client: got '$out', want 'Client Version: $K8S_VERSION'"; return 1; }
}

if [[ "$mode" != force && -d "$DEST" ]] && verify "$DEST"; then
	echo "$DEST"
	exit 0
fi
if [[ "$mode" == check ]]; then
	log "no usable binaries in $DEST (run hack/envtest/build.sh)"
	exit 1
fi

command -v go >/dev/null || die "go is not on PATH"
mkdir -p "$ENVTEST_ROOT" || die "cannot create cache directory $ENVTEST_ROOT"

# One build at a time per cache (the machine has 2 cores, and a second
# builder would only redo the same work): wait for a running build, then
# look again.
if command -v flock >/dev/null; then
	exec 9>"$ENVTEST_ROOT/.build.lock"
	if ! flock -n 9; then
		log "another build holds $ENVTEST_ROOT/.build.lock; waiting for it"
		flock 9
	fi
	if [[ "$mode" != force && -d "$DEST" ]] && verify "$DEST" 2>/dev/null; then
		echo "$DEST"
		exit 0
	fi
fi

# Scratch modules live in a temp dir; the binaries are built into a temp dir
# beside $DEST (same file system) so that the final rename is atomic.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-envtest-build.XXXXXX")"
OUT="$(mktemp -d "$ENVTEST_ROOT/.tmp-k8s-$K8S_VERSION-etcd-$ETCD_VERSION.XXXXXX")"
ok=0
cleanup() {
	rm -rf "$OUT"
	if [[ "$ok" == 1 || "${PORTCULLIS_ENVTEST_KEEP:-}" != 1 ]]; then
		rm -rf "$WORK"
	else
		log "scratch modules kept in $WORK"
	fi
}
trap cleanup EXIT
# The go builds run in the background in a process group of their own (see
# run), so that a TERM or INT sent to this script alone (timeout, CI
# cancelling) stops go and its compilers at once, not after the build.
child=
on_signal() {
	if [[ -n "$child" ]]; then
		kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	log "interrupted; nothing was cached"
	exit 130
}
trap on_signal INT TERM
run() {
	local rc=0
	if command -v setsid >/dev/null; then
		setsid "$@" &
	else
		"$@" &
	fi
	child=$!
	wait "$child" || rc=$?
	child=
	return "$rc"
}

# Module proxy only: no VCS fallback, no workspace, no cgo.
proxy="$(go env GOPROXY)"
proxy="$(tr ',|' '\n\n' <<<"$proxy" | grep -vxE 'direct|off|' | paste -sd, -)" || true
[[ -n "$proxy" ]] || die "GOPROXY ($(go env GOPROXY)) names no module proxy"
export GOPROXY="$proxy" GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GO111MODULE=on CGO_ENABLED=0

# gomod_of MODULE@VERSION: download it and print the path of its go.mod.
gomod_of() {
	local json
	json="$(go mod download -json "$1")" || die "go mod download $1 failed:
$json"
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}
# go_line GOMOD: the version on its go line.
go_line() { awk '$1 == "go" { print $2; exit }' "$1"; }

start=$SECONDS
log "building kube-apiserver, kubectl ($K8S_VERSION) and etcd ($ETCD_VERSION) into $DEST"
log "scratch modules in $WORK; this takes several minutes on 2 cores"

# --- kube-apiserver, kubectl ----------------------------------------------------
log "downloading k8s.io/kubernetes@$K8S_VERSION"
kgomod="$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")"
[[ -f "$kgomod" ]] || die "no go.mod for k8s.io/kubernetes@$K8S_VERSION"

# The staging modules: every `replace X => ./staging/...` in kubernetes'
# go.mod, in the block or the one-line form.
mapfile -t staging < <(awk '
	{ sub(/\/\/.*/, "") }
	/=>/ {
		line = $0
		sub(/^[ \t]*replace[ \t]+/, "", line)
		split(line, lr, "=>"); split(lr[1], old, " "); split(lr[2], new, " ")
		if (new[1] ~ /^\.\/staging\//) print old[1]
	}' "$kgomod" | sort -u)
((${#staging[@]} > 0)) || die "found no ./staging replace directives in $kgomod"
log "k8s.io/kubernetes@$K8S_VERSION maps ${#staging[@]} modules to ./staging; pinning them to $STAGING_VERSION"

# godebug settings of kubernetes' go.mod (one-line or block form), so the
# binaries get the GODEBUG defaults that upstream builds have.
mapfile -t godebug < <(awk '
	{ sub(/\/\/.*/, "") }
	/^godebug[ \t]*\(/ { inblock = 1; next }
	inblock && /^\)/ { inblock = 0; next }
	inblock && NF { print $1; next }
	$1 == "godebug" && NF >= 2 { print $2 }' "$kgomod")

kmod="$WORK/kubernetes"
mkdir -p "$kmod"
sed -e "s/@K8S_VERSION@/$K8S_VERSION/g" -e "s/@STAGING_VERSION@/$STAGING_VERSION/g" \
	"$HERE/kubernetes.go.mod.tmpl" >"$kmod/go.mod"
edits=(-go="$(go_line "$kgomod")" -require="k8s.io/kubernetes@$K8S_VERSION")
for kv in "${godebug[@]}"; do edits+=(-godebug="$kv"); done
for m in "${staging[@]}"; do
	edits+=(-require="$m@$STAGING_VERSION" -replace="$m=$m@$STAGING_VERSION")
done
(cd "$kmod" && go mod edit "${edits[@]}") || die "go mod edit failed in $kmod"

kflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	v="${K8S_VERSION#v}"
	kflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${v%%.*}"
	v="${v#*.}"
	kflags+=" -X $pkg.gitMinor=${v%%.*} -X $pkg.gitTreeState=clean"
done
log "go build k8s.io/kubernetes/cmd/{kube-apiserver,kubectl} (nice $NICE)"
run nice -n "$NICE" go -C "$kmod" build -trimpath -ldflags="$kflags" -o "$OUT/" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ||
	die "building kube-apiserver/kubectl failed (see above); rerun with PORTCULLIS_ENVTEST_KEEP=1 to keep $kmod"
log "kube-apiserver, kubectl built after $((SECONDS - start)) s"

# --- etcd -----------------------------------------------------------------------
log "downloading go.etcd.io/etcd/server/v3@$ETCD_VERSION"
egomod="$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
[[ -f "$egomod" ]] || die "no go.mod for go.etcd.io/etcd/server/v3@$ETCD_VERSION"
emod="$WORK/etcd"
mkdir -p "$emod"
sed -e "s/@ETCD_VERSION@/$ETCD_VERSION/g" "$HERE/etcd.go.mod.tmpl" >"$emod/go.mod"
cp "$HERE/etcd-main.go.tmpl" "$emod/main.go"
(cd "$emod" && go mod edit -go="$(go_line "$egomod")" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION") ||
	die "go mod edit failed in $emod"
log "go build etcd (nice $NICE)"
run nice -n "$NICE" go -C "$emod" build -trimpath \
	-ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION" -o "$OUT/etcd" . ||
	die "building etcd failed (see above); rerun with PORTCULLIS_ENVTEST_KEEP=1 to keep $emod"

# --- check, then move into place ------------------------------------------------
verify "$OUT" || die "the freshly built binaries in $OUT do not pass their --version check"
{
	echo "kubernetes $K8S_VERSION (staging $STAGING_VERSION, ${#staging[@]} modules)"
	echo "etcd $ETCD_VERSION"
	echo "$(go env GOVERSION) CGO_ENABLED=0 -trimpath"
	echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s by hack/envtest/build.sh"
} >"$OUT/BUILDINFO"
chmod 0755 "$OUT"
if [[ -e "$DEST" ]]; then
	old="$(mktemp -d "$ENVTEST_ROOT/.old.XXXXXX")"
	mv -T "$DEST" "$old/dir" || die "cannot move the old $DEST aside"
	rm -rf "$old"
fi
mv -T "$OUT" "$DEST" || die "cannot rename $OUT to $DEST"
ok=1
log "done in $((SECONDS - start)) s: $(du -sh "$DEST" | cut -f1) in $DEST"
echo "$DEST"
