#!/usr/bin/env bash
# run.sh - `make test`: the unit tests, then a throwaway stack (its own
# PostgreSQL cluster, nginx and hms, all on free ports, hms built with
# ASan + UBSan) for the integration and fault tests, then make start / make
# stop from a closed copy of the checkout (tests/deploy/). Everything started is
# stopped by PID, also when a test fails. A sanitizer report in any server
# log fails the run. The last line is "N passed, M failed".
#
#   tests/run.sh [STAGE...]     or HMS_TEST_STAGES="STAGE ..." (comma or space)
#
# runs only those groups of stages (default: all, which `make test` runs):
#   unit         the unit tests and the OpenAPI lint
#   fuzz         every parser's fuzz target
#   integration  the integration suite and what runs on its stack: the docs
#                page, answers against the API document, the FHIR schema,
#                the walk-through, backup and restore
#   faults       the fault stages (`make faults`): the C fault tests (on the
#                test stack), failover to a promoted standby
#                (tests/deploy/failover.sh), the faults under load
#                (tests/deploy/load_faults.sh) and two application hosts
#                (tests/deploy/multihost.sh)
#   apache       a second throwaway stack behind Apache httpd
#                (HMS_WEB_SERVER=apache, deploy/apache/hms.conf): the
#                integration suite, the docs page, the answers against the
#                API document, the FHIR schema, and what only Apache shows
#                (tests/deploy/apache_checks.sh: downloads come from
#                Apache, not a worker; its login limits;
#                tests/deploy/apache_balancer.sh: its balancer never
#                resends a request; tests/deploy/apache_debian.sh: the
#                site in Debian's own /etc/apache2 layout)
#   deploy       make start/stop from a closed checkout, the Debian package
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/build/test
REPORT=$(mktemp /tmp/hms-test-report.XXXXXX)
failed_runs=0

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_suite() {
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee -a "$REPORT"
	local rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || {
		echo "== $name: exit status $rc"
		failed_runs=$((failed_runs + 1))
	}
}

# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

# For a developer's quick loop only (CI sets neither): HMS_TEST_FILTER is a
# Criterion --filter pattern (e.g. 'records/*') for the unit, integration
# and C fault suites, and HMS_TEST_QUICK=1 skips the fuzz stage, the
# fault stages (the C fault tests still run when a filter is given) and
# the deploy stages.
filter_args=()
[ -n "${HMS_TEST_FILTER:-}" ] && filter_args=(--filter "$HMS_TEST_FILTER")
quick=${HMS_TEST_QUICK:-}

stages=${*:-${HMS_TEST_STAGES:-all}}
stages=${stages//,/ }
for stage in $stages; do
	case $stage in
	all | unit | fuzz | integration | faults | apache | deploy) ;;
	*)
		echo "run.sh: unknown stage '$stage' (all, unit, fuzz, integration, faults, apache, deploy)" >&2
		exit 2
		;;
	esac
done
want() { [[ " $stages " == *" all "* || " $stages " == *" $1 "* ]]; }
echo "== stages: $stages"

if want unit; then
	run_suite "unit tests" "$BIN/unit_tests" "${filter_args[@]}"
	# docs/openapi.yaml through @redocly/cli's linter (npm, deploy/npm/).
	run_suite "openapi lint" "$ROOT/tests/docs/lint.sh"
fi

# --- fuzz stage -------------------------------------------------------------
# Every parser's libFuzzer target (tests/fuzz/) for HMS_FUZZ_SECONDS each, on
# a scratch copy of its seeds; one line per target. The targets are built
# here, not as prerequisites of `make check`, so that a machine without
# clang still runs the other stages - and fails this one, loudly.
fuzz_seconds=${HMS_FUZZ_SECONDS:-15}
if ! want fuzz; then
	:
elif echo "== fuzz targets, $fuzz_seconds s each" && [ -n "$quick" ]; then
	echo "== fuzz: skipped (HMS_TEST_QUICK)"
elif ! command -v "${CC_FUZZ:-clang}" >/dev/null; then
	echo "== fuzz: ${CC_FUZZ:-clang} not found; deploy/install-deps.sh installs clang and libclang-rt-dev"
	failed_runs=$((failed_runs + 1))
else
	fuzz_failed_before=$failed_runs
	run_suite "fuzz build" env -u MAKEFLAGS -u MAKELEVEL \
		make --no-print-directory -s -j"$(nproc)" fuzz
	if [ "$failed_runs" -eq "$fuzz_failed_before" ]; then
		for fuzz_src in tests/fuzz/fuzz_*.c; do
			fuzz_target=$(basename "$fuzz_src" .c)
			run_suite "fuzz $fuzz_target" tests/fuzz/fuzz.sh "$fuzz_target" "$fuzz_seconds"
		done
	fi
fi
# --- end of fuzz stage ------------------------------------------------------

STATE=$(mktemp -d /tmp/hms-test.XXXXXX)
chmod 755 "$STATE"
export HMS_STATE_DIR=$STATE HMS_BIN_DIR=$BIN
export HMS_HTTPS_PORT=$(free_port) HMS_PG_PORT=$(free_port)
# log_level debug: every request gets its line in hms.log (route pattern,
# status, user id), so all the suite's requests go through that code and
# test_logs.c can check the lines and grep the log for patient data.
export HMS_WORKERS=2 HMS_LOG_LEVEL=debug HMS_NGINX_WORKERS=2
export HMS_PG_EXTRA_CONF=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'
unset HMS_DATABASE_URL HMS_CONFIG
# The first admin's password: a fixed test value, exported so the
# integration tests can log in as that admin (stack.sh creates it).
export HMS_ADMIN_PASSWORD=hms-test-admin-password-1
# The tests log in in parallel: widen nginx's limit_req on /api/auth/token/
# for this test stack only (deploy/nginx/hms.conf keeps its own rate).
export HMS_TOKEN_RATE=6000r/m HMS_TOKEN_BURST=500
export HMS_PASSWORD_RATE=6000r/m HMS_PASSWORD_BURST=500
# Prune (src/sealer.c) every second, so the housekeeping test need not wait.
export HMS_HOUSEKEEPING_INTERVAL_SECONDS=1
# They also run in parallel from 127.0.0.1, as fast as the stack answers:
# exempt that address from the per-client limit on /api/. Other source
# addresses keep the production rate and burst, and test_rate_limit.c
# checks the limit from one of them (127.0.0.9).
export HMS_API_LIMIT_EXEMPT=127.0.0.1

APACHE_STATE= # the apache stage's stack, when it ran
cleanup() {
	HMS_STATE_DIR=$STATE "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1
	[ -n "$APACHE_STATE" ] && HMS_STATE_DIR=$APACHE_STATE "$ROOT/deploy/stack.sh" stop >/dev/null 2>&1
	if [ -n "${HMS_KEEP_TEST_STATE:-}" ]; then
		echo "test state kept in $STATE${APACHE_STATE:+ and $APACHE_STATE}"
	else
		rm -rf "$STATE" ${APACHE_STATE:+"$APACHE_STATE"}
	fi
	rm -f "$REPORT"
}
trap cleanup EXIT

# The C fault tests run on the same stack as the integration suite; quick
# mode skips them unless a filter names some.
c_faults=
want faults && { [ -z "$quick" ] || [ -n "${HMS_TEST_FILTER:-}" ]; } && c_faults=1
stack_up=
if want integration || [ -n "$c_faults" ]; then
	echo "== starting the test stack in $STATE (https port $HMS_HTTPS_PORT)"
	if "$ROOT/deploy/stack.sh" start; then
		stack_up=1
		export HMS_TEST_BASE_URL=https://localhost:$HMS_HTTPS_PORT
		export HMS_TEST_CA=$STATE/tls/hms.crt HMS_TEST_ROOT=$ROOT HMS_TEST_STATE=$STATE
		export HMS_TEST_ADMIN_URL="host=$STATE/pg/run port=$HMS_PG_PORT user=postgres"
		export HMS_TEST_HMS_BIN=$BIN/hms HMS_TEST_HMSCTL_BIN=$BIN/hmsctl
	else
		echo "== the test stack did not start"
		tail -n 40 "$STATE/log/hms.log" "$STATE/nginx/logs/error.log" "$STATE/pg/postgres.log" 2>/dev/null
		failed_runs=$((failed_runs + 1))
	fi
fi
if [ -n "$stack_up" ] && want integration; then
	run_suite "integration tests" "$BIN/integration_tests" "${filter_args[@]}"
	# The /api/docs/ page in headless Chromium (a screenshot is left in
	# $STATE/docs-page.png; HMS_KEEP_TEST_STATE=1 keeps it).
	run_suite "docs page in a browser" python3 "$ROOT/tests/docs/browser.py"
	# One live request per operation and its main errors, each answer
	# validated against docs/openapi.yaml.
	run_suite "answers against the API document" python3 "$ROOT/tests/docs/responses.py"
	# Every FHIR answer those tests saved, against the official FHIR R4 JSON
	# schema (npm, pinned in tests/fhir/package-lock.json). Skipped only when
	# a filter left the fhir suite out.
	if [ -z "${HMS_TEST_FILTER:-}" ] || [ -d "$STATE/fhir" ]; then
		run_suite "FHIR R4 schema (tests/fhir/validate.js)" bash -c \
			'"$1/tests/fhir/install.sh" && NODE_PATH="${HMS_FHIR_NPM_DIR:-$1/build/npm-fhir}/node_modules" node "$1/tests/fhir/validate.js" "$2/fhir"' \
			fhir-schema "$ROOT" "$STATE"
	fi
	# docs/API_DOCUMENTATION.md, every step run and checked; and docs/erd.dot
	# against this stack's schema.
	run_suite "the API walk-through (docs/API_DOCUMENTATION.md)" "$ROOT/tests/docs/walkthrough.sh"
	# deploy/backup.sh of this (now populated) stack, deploy/restore.sh into a
	# second, empty one; the same answers, files and audit trail.
	run_suite "backup and restore" "$ROOT/tests/deploy/backup_restore.sh"
fi
if [ -n "$stack_up" ]; then
	# The process model, the database and the disk under faults, one
	# request at a time or with light load (tests/integration/test_faults.c).
	[ -n "$c_faults" ] && run_suite "fault tests" "$BIN/fault_tests" --jobs 1 "${filter_args[@]}"
	"$ROOT/deploy/stack.sh" stop
fi

# --- apache stage -------------------------------------------------------------
# The same API behind Apache httpd: a second throwaway stack (its own
# cluster, ports and Apache, generated from deploy/apache/hms.conf) and,
# through it, the whole integration suite - among it everything that
# depends on the web tier: attachments up and down with Range, signed-URL
# refusals, the internal path, body limits, the rate limit, security
# headers, the request id, logs without PHI (the suites grep every *.log
# under HMS_TEST_STATE, Apache's included), FHIR errors - then the docs
# page in Chromium, one request per operation against the API document,
# the FHIR schema, and the bytes of a 100 MiB download coming from Apache,
# not a worker, and the login and password routes' 429s
# (tests/deploy/apache_checks.sh, on the stack restarted with the upload
# limit raised and those routes at their production limits). Quick mode
# runs it only when named; HMS_TEST_FILTER applies to its suite too.
if want apache && { [ -z "$quick" ] || [[ " $stages " == *" apache "* ]]; }; then
	APACHE_STATE=$(mktemp -d /tmp/hms-test-apache.XXXXXX)
	chmod 755 "$APACHE_STATE"
	export HMS_STATE_DIR=$APACHE_STATE HMS_WEB_SERVER=apache HMS_TEST_WEB_SERVER=apache
	export HMS_HTTPS_PORT=$(free_port) HMS_PG_PORT=$(free_port)
	echo "== starting the Apache test stack in $APACHE_STATE (https port $HMS_HTTPS_PORT)"
	if "$ROOT/deploy/stack.sh" start; then
		export HMS_TEST_BASE_URL=https://localhost:$HMS_HTTPS_PORT
		export HMS_TEST_CA=$APACHE_STATE/tls/hms.crt HMS_TEST_ROOT=$ROOT HMS_TEST_STATE=$APACHE_STATE
		export HMS_TEST_ADMIN_URL="host=$APACHE_STATE/pg/run port=$HMS_PG_PORT user=postgres"
		export HMS_TEST_HMS_BIN=$BIN/hms HMS_TEST_HMSCTL_BIN=$BIN/hmsctl
		# The whole suite, not only the web-tier parts: a minute more, and
		# nothing behind Apache is taken on trust.
		run_suite "integration tests through Apache" "$BIN/integration_tests" "${filter_args[@]}"
		run_suite "docs page in a browser, through Apache" python3 "$ROOT/tests/docs/browser.py"
		run_suite "answers against the API document, through Apache" \
			python3 "$ROOT/tests/docs/responses.py"
		if [ -d "$APACHE_STATE/fhir" ]; then
			run_suite "FHIR R4 schema, through Apache" bash -c \
				'"$1/tests/fhir/install.sh" && NODE_PATH="${HMS_FHIR_NPM_DIR:-$1/build/npm-fhir}/node_modules" node "$1/tests/fhir/validate.js" "$2/fhir"' \
				fhir-schema "$ROOT" "$APACHE_STATE"
		fi
		# The site installed as docs/deploy.md says, in a copy of Debian's
		# /etc/apache2, in place of the stack's Apache; some suites through it.
		run_suite "the site in Debian's Apache layout" "$ROOT/tests/deploy/apache_debian.sh"
		"$ROOT/deploy/stack.sh" stop
		# The balancer block of the site, with stand-in hosts: never a resend.
		run_suite "the Apache balancer never resends a request" "$ROOT/tests/deploy/apache_balancer.sh"
		# The upload limit raised for a 100 MiB file, the login and password
		# routes at their production limits.
		if env -u HMS_TOKEN_RATE -u HMS_TOKEN_BURST -u HMS_PASSWORD_RATE -u HMS_PASSWORD_BURST \
			HMS_MAX_UPLOAD_BYTES=$((110 * 1024 * 1024)) "$ROOT/deploy/stack.sh" start; then
			run_suite "downloads from Apache, not a worker; the login limits" \
				"$ROOT/tests/deploy/apache_checks.sh"
		else
			echo "== the Apache test stack did not restart"
			failed_runs=$((failed_runs + 1))
		fi
		"$ROOT/deploy/stack.sh" stop
	else
		echo "== the Apache test stack did not start"
		tail -n 40 "$APACHE_STATE/log/hms.log" "$APACHE_STATE/apache/logs/error.log" \
			"$APACHE_STATE/pg/postgres.log" 2>/dev/null
		failed_runs=$((failed_runs + 1))
	fi
	export HMS_STATE_DIR=$STATE
	unset HMS_WEB_SERVER HMS_TEST_WEB_SERVER
fi
# --- end of apache stage -------------------------------------------------------

# make start / make stop from a copy of the repository in a 0700 directory
# whose path has a space (a checkout in /root, as root), on its own ports;
# it prints a Criterion-style synthesis line counted below.
want deploy && [ -z "$quick" ] && run_suite "make start/stop from a closed checkout" \
	env -u MAKEFLAGS -u MAKELEVEL "$ROOT/tests/deploy/checkout_anywhere.sh"

# The fault stages on stacks of their own, with the sanitizer build; each
# checks its stack's logs for sanitizer reports.
if want faults && [ -z "$quick" ]; then
	# A synchronous standby (deploy/replica.sh), the primary killed under a
	# write load and the standby promoted: every acknowledged write and its
	# audit row survive, and hms finds the new primary by itself.
	run_suite "failover to a promoted standby" env -u MAKEFLAGS -u MAKELEVEL \
		FAILOVER_BIN_DIR="$BIN" "$ROOT/tests/deploy/failover.sh"
	# Worker kills, SIGHUP, PostgreSQL restarted and crashed, a full
	# attachment disk and a read-only database, each under load.
	run_suite "faults under load" env -u MAKEFLAGS -u MAKELEVEL \
		LOAD_FAULTS_BIN_DIR="$BIN" "$ROOT/tests/deploy/load_faults.sh"
	# Two application hosts behind one nginx upstream: one killed (-9, the
	# whole tree) under load, writes never sent twice, attachments across
	# hosts.
	run_suite "two application hosts" env -u MAKEFLAGS -u MAKELEVEL \
		MULTIHOST_BIN_DIR="$BIN" "$ROOT/tests/deploy/multihost.sh"
fi

# make deb here and in a Debian 13 (or 12) root, each package installed with
# apt into a fresh root of its release and used through its own nginx site,
# and on Debian 13 through its Apache site too; apt on Debian 12 refuses
# Debian 13's (debootstrap needs the Debian mirror apt already uses).
want deploy && [ -z "$quick" ] && run_suite "the Debian package on fresh Debian 12 and Debian 13 roots" \
	env -u MAKEFLAGS -u MAKELEVEL "$ROOT/tests/deploy/deb_install.sh"

# Sanitizer findings fail the run even when every assertion passed: in the
# server processes (their logs) and in the test processes themselves
# (Criterion counts a test as passed when LeakSanitizer reports only at exit).
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$REPORT"; then
	echo "== sanitizer reports in the test output:"
	grep -A 20 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$REPORT" | head -n 80
	failed_runs=$((failed_runs + 1))
fi
# Sanitizer findings in the server processes fail the run even when every
# HTTP answer looked right.
if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
	"$STATE"/log/*.log ${APACHE_STATE:+"$APACHE_STATE"/log/*.log} 2>/dev/null; then
	echo "== sanitizer reports in the server logs:"
	grep -h -A 30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/log/*.log \
		${APACHE_STATE:+"$APACHE_STATE"/log/*.log} | head -n 120
	failed_runs=$((failed_runs + 1))
fi

# One closing line for the whole run, summed over Criterion's syntheses.
passed=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$REPORT" | awk '{s+=$1} END {print s+0}')
failing=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' "$REPORT" |
	awk '{s+=$1+$2} END {print s+0}')
if [ "$failed_runs" -gt 0 ] && [ "$failing" -eq 0 ]; then
	failing=$failed_runs
fi
echo "$passed passed, $failing failed"
[ "$failed_runs" -eq 0 ] && [ "$failing" -eq 0 ]
