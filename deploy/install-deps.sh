#!/usr/bin/env bash
# install-deps.sh [--build] - installs the Debian packages HMS needs to
# build, run and test, if any are missing. Uses sudo only when not root.
# Idempotent and quiet when everything is present. With --build, only what
# `make all` and `make deb` need to compile and package (the npm packages
# that `make install` copies come from deploy/install-npm.sh).
#
# The same list on Debian 12 (bookworm) and Debian 13 (trixie): only names
# both releases carry. Versioned names are not used where a release-neutral
# one exists: libclang-rt-dev is the compiler-rt of the default clang (14 on
# Debian 12, 19 on 13), as clang is. postgresql-contrib is not listed: the
# contrib extensions (unaccent, btree_gist) are in the postgresql-NN server
# package on both, and Debian 13 has no real postgresql-contrib package.
set -euo pipefail

build=(
	gcc libc6-dev make pkg-config dpkg-dev
	libfcgi-dev libpq-dev libjson-c-dev libssl-dev libargon2-dev libmagic-dev libseccomp-dev
)
rest=(
	openssl ca-certificates curl tzdata
	libcriterion-dev libcurl4-openssl-dev python3-jwt
	clang libclang-rt-dev
	nginx postgresql
	wrk gnuplot-nox
	jq graphviz debootstrap groff-base man-db
	chromium python3-jsonschema
	apache2 libapache2-mod-xsendfile libapache2-mod-qos
)
case "${1:-}" in
--build) packages=("${build[@]}") ;;
"") packages=("${build[@]}" "${rest[@]}") ;;
*)
	echo "usage: install-deps.sh [--build]" >&2
	exit 2
	;;
esac

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
# npm (for deploy/install-npm.sh): Debian's, unless a Node.js with its own
# npm is already installed (NodeSource's nodejs ships npm and conflicts
# with Debian's npm package).
[ "${1:-}" = --build ] || command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# libapache2-mod-qos enables itself in the system's own Apache, and on
# Debian 12 that Apache then cannot start (its mod_qos needs libpcre3
# loaded first: docs/deploy.md, "Apache httpd"). The stacks here load their
# modules themselves, so a module installed just now for them is switched
# off again in the system's Apache, which is left as it was.
if [[ " ${missing[*]} " == *" libapache2-mod-qos "* ]]; then
	$sudo env PATH="$PATH:/usr/sbin" a2dismod -q qos >/dev/null 2>&1 || true
fi
