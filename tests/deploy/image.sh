#!/bin/sh
# Build the seccomp-syncd container image here, without a registry:
#   tests/deploy/image.sh base    the Debian 12 base image (debootstrap, cached tarball)
#   tests/deploy/image.sh build   base + `podman build -f Containerfile`
#   tests/deploy/image.sh test    build + `seccomp-syncd version` and `validate` in the image
#   tests/deploy/image.sh size    print the image size in bytes
# The base root filesystem comes from the Debian mirror that apt on this machine already uses
# (no container registry is reachable), is cached as build/image-cache/<suite>-minbase.tar and
# imported with `podman import`.  Podman runs with its own storage under $IMAGE_DIR and the flags
# that work on these machines (docs: RUNTIMES.md): vfs, cgroupfs, no events, runc, low ulimits.
# Needs root; installs debootstrap and podman when they are missing.
set -eu

cd "$(dirname "$0")/../.."
: "${IMAGE_DIR:=build/image}" "${IMAGE_CACHE:=build/image-cache}"
: "${SUITE:=bookworm}"
VERSION=$(cat VERSION)
: "${IMAGE:=localhost/seccomp-syncd:$VERSION}"
BASE_IMAGE="localhost/seccomp-syncd-base:$SUITE"

die() {
	echo "image: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and podman need it)"

# The mirror apt already reaches: the first http(s) URI of the Debian sources on this machine.
mirror() {
	m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{print $2}' | grep -v -- '-security' | head -n 1)
	[ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list 2>/dev/null |
		awk '{print $2}' | grep -v -- '-security' | head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}

podman_() {
	mkdir -p "$IMAGE_DIR/root" "$IMAGE_DIR/run" "$IMAGE_DIR/tmp"
	podman --root "$PWD/$IMAGE_DIR/root" --runroot "$PWD/$IMAGE_DIR/run" \
		--tmpdir "$PWD/$IMAGE_DIR/tmp" --storage-driver vfs --cgroup-manager cgroupfs \
		--events-backend none --runtime runc "$@"
}

ensure_tools() {
	scripts/install-deps debootstrap podman runc
}

base() {
	ensure_tools
	tarball="$IMAGE_CACHE/$SUITE-minbase.tar"
	if [ ! -s "$tarball" ]; then
		m=$(mirror)
		echo "image: debootstrap $SUITE from $m (cached in $tarball afterwards)"
		mkdir -p "$IMAGE_CACHE"
		rootfs=$(mktemp -d "$PWD/$IMAGE_CACHE/rootfs.XXXXXX")
		# shellcheck disable=SC2064
		trap "rm -rf '$rootfs'" EXIT INT TERM
		debootstrap --variant=minbase \
			--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
			"$SUITE" "$rootfs" "$m" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
			{ tail -20 "$IMAGE_CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
		# Security updates as well, from the same host; no caches in the image.
		sec=$(grep -hs '^URIs:.*-security' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
			head -n 1)
		{
			echo "deb $m $SUITE main"
			echo "deb $m $SUITE-updates main"
			[ -z "$sec" ] || echo "deb $sec $SUITE-security main"
		} >"$rootfs/etc/apt/sources.list"
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
			"$rootfs"/var/log/* "$rootfs"/tmp/*
		tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$rootfs"
		trap - EXIT INT TERM
	fi
	if ! podman_ image exists "$BASE_IMAGE"; then
		podman_ import --change 'CMD ["/bin/sh"]' "$tarball" "$BASE_IMAGE" >/dev/null
	fi
	echo "image: base $BASE_IMAGE from $tarball"
}

build() {
	base
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	podman_ build --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		--build-arg BASE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
		--build-arg REVISION="$rev" \
		-f Containerfile -t "$IMAGE" .
	echo "image: built $IMAGE ($(size) bytes)"
}

size() {
	podman_ image inspect --format '{{.Size}}' "$IMAGE"
}

# Run the image the way RUNTIMES.md says podman runs here; the repository is mounted read-only.
run_image() {
	podman_ run --rm --network=none --read-only --ulimit nofile=1024:1024 \
		--ulimit nproc=1024:1024 -v "$PWD/tests/data/profiles:/profiles:ro" \
		-v "$PWD/deploy/examples:/examples:ro" "$IMAGE" "$@"
}

test_image() {
	podman_ image exists "$IMAGE" || build
	out=$(run_image version) || die "'seccomp-syncd version' failed in $IMAGE"
	echo "$out"
	echo "$out" | grep -q "$VERSION" || die "'seccomp-syncd version' does not print $VERSION"
	run_image validate /profiles/docker-default.json /examples/demo-profile.yaml ||
		die "'seccomp-syncd validate' failed in $IMAGE"
	# A profile that runs unconfined must be refused: exit 1, not a crash.
	set +e
	printf '{}' >"$IMAGE_DIR/tmp/empty.json"
	podman_ run --rm --network=none --read-only --ulimit nofile=1024:1024 \
		--ulimit nproc=1024:1024 -v "$PWD/$IMAGE_DIR/tmp/empty.json:/empty.json:ro" \
		"$IMAGE" validate /empty.json
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || die "'seccomp-syncd validate' on '{}' exited $rc, expected 1"
	# The DaemonSet's pod, as a kubelet would run it, against the test API server.
	IMAGE="$IMAGE" PODMAN="podman --root $PWD/$IMAGE_DIR/root --runroot $PWD/$IMAGE_DIR/run \
--tmpdir $PWD/$IMAGE_DIR/tmp --storage-driver vfs --cgroup-manager cgroupfs \
--events-backend none --runtime runc" timeout -s INT 300 "${PYTHON:-/usr/bin/python3}" \
		tests/deploy/image_e2e.py || die "the image does not run as deploy/daemonset.yaml says"
	user=$(podman_ image inspect --format '{{.Config.User}}' "$IMAGE")
	[ "$user" = 0 ] || die "image user is '$user', expected 0"
	echo "image: $IMAGE passes (size $(size) bytes)"
}

case "${1:-build}" in
base) base ;;
build) build ;;
test) test_image ;;
size) size ;;
*) die "usage: $0 base|build|test|size" ;;
esac
