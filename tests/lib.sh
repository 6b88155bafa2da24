# lib.sh - shell helpers shared by the test and benchmark scripts (sourced).

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return 0
		}
	done
	return 1
}

# Whether process $1 is alive and not a zombie waiting to be reaped.
pid_running() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Runs a PostgreSQL tool as the user that owns the test clusters (root
# runs them as 'postgres': PostgreSQL refuses root), from a directory that
# user can read.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}
