# Written by ringhost-bench: run `gnuplot bench.gp` in this folder.
set grid
set key left top

set key right bottom
set terminal svg size 960,600 dynamic background rgb 'white' font 'sans,11'
set termoption noenhanced
set output 'latency.svg'
set title "Round-trip latency (CDF; legend: case, tag, samples)"
set xlabel "round trip (ns)"
set ylabel "fraction of round trips <= x"
set logscale x 10
plot 'lat_rte_ring.rtt.p64.dat' using 1:2 with lines lw 2 title 'rte_ring.rtt.p64 (near, 100000)', 'lat_mutex.rtt.p64.dat' using 1:2 with lines lw 2 title 'mutex.rtt.p64 (near, 100000)', 'lat_zmq.rtt.p64.dat' using 1:2 with lines lw 2 title 'zmq.rtt.p64 (near, 100000)', 'lat_rh.rtt.inline.spin.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.inline.spin.p64 (near, 100000)', 'lat_rh.rtt.inline.adaptive.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.inline.adaptive.p64 (near, 100000)', 'lat_rh.rtt.thread.spin.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.thread.spin.p64 (near, 100000)', 'lat_rh.rtt.thread.adaptive.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.thread.adaptive.p64 (near, 100000)'
unset logscale
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 960,600 font 'sans,10'
} else {
  set terminal png size 960,600
}
set termoption noenhanced
set output 'latency.png'
set title "Round-trip latency (CDF; legend: case, tag, samples)"
set xlabel "round trip (ns)"
set ylabel "fraction of round trips <= x"
set logscale x 10
plot 'lat_rte_ring.rtt.p64.dat' using 1:2 with lines lw 2 title 'rte_ring.rtt.p64 (near, 100000)', 'lat_mutex.rtt.p64.dat' using 1:2 with lines lw 2 title 'mutex.rtt.p64 (near, 100000)', 'lat_zmq.rtt.p64.dat' using 1:2 with lines lw 2 title 'zmq.rtt.p64 (near, 100000)', 'lat_rh.rtt.inline.spin.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.inline.spin.p64 (near, 100000)', 'lat_rh.rtt.inline.adaptive.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.inline.adaptive.p64 (near, 100000)', 'lat_rh.rtt.thread.spin.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.thread.spin.p64 (near, 100000)', 'lat_rh.rtt.thread.adaptive.p64.dat' using 1:2 with lines lw 2 title 'rh.rtt.thread.adaptive.p64 (near, 100000)'
unset logscale
set output

set key left top
set terminal svg size 960,600 dynamic background rgb 'white' font 'sans,11'
set termoption noenhanced
set output 'throughput_gbps.svg'
set title "Throughput against payload size (median per tag)"
set xlabel "payload (bytes)"
set ylabel "GB/s"
set logscale x 2
plot 'tp_rte_ring.hop.b32.dat' using 1:2 with linespoints lw 2 title 'rte_ring.hop.b32 (near)', 'tp_memcpy.dat' using 1:2 with linespoints lw 2 title 'memcpy (near)', 'tp_rh.echo.inline.adaptive.b32.dat' using 1:2 with linespoints lw 2 title 'rh.echo.inline.adaptive.b32 (near)', 'tp_rh.echo.thread.adaptive.b32.dat' using 1:2 with linespoints lw 2 title 'rh.echo.thread.adaptive.b32 (near)'
unset logscale
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 960,600 font 'sans,10'
} else {
  set terminal png size 960,600
}
set termoption noenhanced
set output 'throughput_gbps.png'
set title "Throughput against payload size (median per tag)"
set xlabel "payload (bytes)"
set ylabel "GB/s"
set logscale x 2
plot 'tp_rte_ring.hop.b32.dat' using 1:2 with linespoints lw 2 title 'rte_ring.hop.b32 (near)', 'tp_memcpy.dat' using 1:2 with linespoints lw 2 title 'memcpy (near)', 'tp_rh.echo.inline.adaptive.b32.dat' using 1:2 with linespoints lw 2 title 'rh.echo.inline.adaptive.b32 (near)', 'tp_rh.echo.thread.adaptive.b32.dat' using 1:2 with linespoints lw 2 title 'rh.echo.thread.adaptive.b32 (near)'
unset logscale
set output

set terminal svg size 960,600 dynamic background rgb 'white' font 'sans,11'
set termoption noenhanced
set output 'throughput_msgs.svg'
set title "Messages per second against payload size"
set xlabel "payload (bytes)"
set ylabel "M msg/s"
set logscale x 2; set logscale y 10
plot 'tp_rte_ring.hop.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rte_ring.hop.b32 (near)', 'tp_memcpy.dat' using 1:($3/1e6) with linespoints lw 2 title 'memcpy (near)', 'tp_rh.echo.inline.adaptive.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rh.echo.inline.adaptive.b32 (near)', 'tp_rh.echo.thread.adaptive.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rh.echo.thread.adaptive.b32 (near)'
unset logscale
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 960,600 font 'sans,10'
} else {
  set terminal png size 960,600
}
set termoption noenhanced
set output 'throughput_msgs.png'
set title "Messages per second against payload size"
set xlabel "payload (bytes)"
set ylabel "M msg/s"
set logscale x 2; set logscale y 10
plot 'tp_rte_ring.hop.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rte_ring.hop.b32 (near)', 'tp_memcpy.dat' using 1:($3/1e6) with linespoints lw 2 title 'memcpy (near)', 'tp_rh.echo.inline.adaptive.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rh.echo.inline.adaptive.b32 (near)', 'tp_rh.echo.thread.adaptive.b32.dat' using 1:($3/1e6) with linespoints lw 2 title 'rh.echo.thread.adaptive.b32 (near)'
unset logscale
set output

