#!/usr/bin/env bash
# chart.sh DAT SVG TITLE - draws bench.sh's table (DAT: tab-separated, one
# row a line, see bench.sh) with gnuplot as an SVG: req/s per endpoint on
# the left (log scale, the share of the bare FastCGI hello beside each bar;
# the two reference rows in grey), p50 and p99 latency on the right (log
# scale, milliseconds). A row without figures (n/a) is drawn as a note.
set -euo pipefail

[ $# -eq 3 ] || {
	echo "usage: chart.sh DAT SVG TITLE" >&2
	exit 2
}
DAT=$1 SVG=$2 TITLE=$3
command -v gnuplot >/dev/null || {
	echo "chart.sh: gnuplot is not installed (Debian: gnuplot-nox)" >&2
	exit 1
}
rows=$(grep -vc '^#' "$DAT")
# Axis ranges from the data: room on the right of each bar for its label.
read -r rps_max lat_min lat_max <<<"$(awk -F'\t' '!/^#/ && $4 != "NaN" {
	if ($4 > r) r = $4
	if (m == "" || ($6 > 0 && $6 < m)) m = $6
	if ($7 > l) l = $7
} END {printf "%s %s %s\n", r, (m > 0 ? m : 0.01), l}' "$DAT")"
hello=$(awk -F'\t' '$2 == "bare FastCGI hello" {print $4}' "$DAT")
height=$((120 + rows * 38))

gnuplot <<GP
set terminal svg size 1400,$height dynamic font "sans,12" background "#ffffff"
set output "$SVG"
set datafile separator "\t"
set datafile missing "NaN"
set style fill solid 0.85 border -1
set multiplot title "$TITLE" noenhanced
set yrange [$rows - 0.5:-0.5]
set tmargin 4
set bmargin 4
set grid xtics mxtics lc rgb "#dddddd"
ms(x) = x < 10 ? sprintf("%.2f", x) : sprintf("%.0f", x)

# Left: throughput, endpoint names as the y axis.
set origin 0, 0
set size 0.62, 0.95
set lmargin 50
set rmargin 2
set logscale x
set xrange [1:$rps_max * 40]
set xlabel "requests/s (log scale); in brackets: share of the bare FastCGI hello"
set ytics noenhanced nomirror scale 0
set format x "%.0s%c"
# SPEC section 6: the audited GET /api/patients/{id}/ at >= 30% of the hello.
if ("$hello" ne "") {
	set arrow from 0.3 * $hello, graph 0 to 0.3 * $hello, graph 1 nohead dt 2 lc rgb "#aa3333"
	set label "30% of hello" at 0.3 * $hello, graph 1 offset 0.3, 0.7 textcolor rgb "#aa3333"
}
plot "$DAT" using (\$4 / 2):1:(1):4:(\$1 - 0.35):(\$1 + 0.35):(\$10 > 0 ? 0x999999 : 0x3366aa):ytic(2) \
	with boxxyerror lc rgb variable notitle, \
	"" using (\$4 * 1.15):1:(sprintf("%.0f (%.1f%%)", \$4, \$5)) with labels left noenhanced notitle, \
	"" using (1.2):1:(valid(4) ? "" : "n/a: cursor pagination not available") \
	with labels left noenhanced textcolor rgb "#aa3333" notitle

# Right: latency at that load.
set origin 0.62, 0
set size 0.38, 0.95
set lmargin 2
set rmargin 3
set xrange [$lat_min / 2:$lat_max * 30]
set xlabel "latency, ms (log scale)"
set format x "%g"
set format y ""
unset arrow
unset label
# SPEC section 6: p99 under 10 ms for GET /api/patients/{id}/.
set arrow from 10, graph 0 to 10, graph 1 nohead dt 2 lc rgb "#aa3333"
set label "10 ms" at 10, graph 1 offset 0.3, 0.7 textcolor rgb "#aa3333"
set key tmargin right horizontal
plot "$DAT" using (\$6 / 2):1:(0.001):6:(\$1 - 0.38):(\$1 - 0.02) \
	with boxxyerror lc rgb "#66aa66" title "p50", \
	"" using (\$7 / 2):1:(0.001):7:(\$1 + 0.02):(\$1 + 0.38) \
	with boxxyerror lc rgb "#cc6633" title "p99", \
	"" using (\$7 * 1.1):1:(ms(\$6) . " / " . ms(\$7)) with labels left notitle
unset multiplot
GP
