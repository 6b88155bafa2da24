#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages HMS needs to build, run and
# test, if any are missing. Uses sudo only when not root. Idempotent and
# quiet when everything is present.
set -euo pipefail

packages=(
	gcc make pkg-config openssl ca-certificates curl tzdata
	libfcgi-dev libpq-dev libjson-c-dev libssl-dev libargon2-dev libmagic-dev libseccomp-dev
	libcriterion-dev libcurl4-openssl-dev python3-jwt
	clang libclang-rt-14-dev
	nginx postgresql postgresql-contrib
	wrk gnuplot-nox
	jq graphviz debootstrap groff-base man-db
	chromium python3-jsonschema
	apache2 libapache2-mod-xsendfile libapache2-mod-qos
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
# npm (for deploy/install-npm.sh): Debian's, unless a Node.js with its own
# npm is already installed (NodeSource's nodejs ships npm and conflicts
# with Debian's npm package).
command -v npm >/dev/null || missing+=(nodejs npm)
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
