# bashisms.bash WORKDIR: GNU bash (Debian's bash-static, /bin/bash on the
# disk) running a script: arrays, associative arrays, [[ ]], (( )),
# parameter expansion, brace expansion, here-strings, local variables,
# PIPESTATUS, traps, read loops, background jobs. Commands
# it runs are busybox applets, as on the host (tests/cluster/abi_test.py
# runs it with PATH a directory of busybox links there). Prints lines
# that must be the same on a Tessera vNode and on the host; works in
# WORKDIR/bashisms, removed at the end.
w=${1:-/tmp}/bashisms
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }

echo "== arrays"
a=(zero one two three)
echo "${#a[@]} ${a[2]} ${a[-1]} ${a[*]:1:2}"
a+=(four); unset 'a[0]'
echo "${!a[@]}"
declare -A m=([x]=1 [y]=2)
m[z]=3
for k in $(printf '%s\n' "${!m[@]}" | sort); do echo "$k=${m[$k]}"; done
echo "== tests and arithmetic"
s=tessera
[[ $s == t*a && $s =~ ^te(ss)era$ ]] && echo "match ${BASH_REMATCH[1]}"
(( x = 6 * 7, y = x % 5 )); echo "x=$x y=$y"
echo "$(( 2 ** 10 )) $(( 0x1f )) $(( 8#17 ))"
let "z = x << 2"; echo "z=$z"
echo "== expansion"
p=/usr/local/lib/libx.so.1
echo "${p##*/} ${p%/*} ${p/lib/LIB} ${p//lib/L} ${#p}"
u=Hello; echo "${u^^} ${u,,} ${u:1:3}"
echo {a,b}{1,2} {1..5} {10..0..5}
unset v; echo "${v:-default} ${v:=set}" "$v"
echo "== here-strings and read"
read -r first rest <<< "alpha beta gamma"; echo "$first|$rest"
IFS=: read -ra parts <<< "a:b:c"; echo "${#parts[@]} ${parts[1]}"
n=0; while read -r line; do (( n += ${#line} )); done <<'END'
abc
de
f
END
echo "chars: $n"
echo "== functions"
count() { local c=0 i; for i in "$@"; do (( c++ )); done; echo "$c"; }
c=outer; count a "b c" d; echo "c still $c"
fact() { if (( $1 <= 1 )); then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
fact 10
declare -f count | head -n 1
echo "== pipelines and status"
true | false | true; echo "PIPESTATUS ${PIPESTATUS[*]}"
set -o pipefail; false | true; echo "pipefail: $?"; set +o pipefail
printf '%05d|%-4s|%x\n' 42 ab 255
echo "sum $(( $(seq 1 5 | paste -sd+) ))"
echo "== traps and subshells"
(trap 'echo "sub exit"' EXIT; exit 3); echo "sub status $?"
trap 'echo "USR1 caught"' USR1; kill -USR1 $$; trap - USR1
f() { return 7; }; f; echo "return $?"
sleep 0.1 & wait $!; echo "waited: $?"
(exit 5) & wait $!; echo "background status: $?"
cd /; rm -rf "$w"
echo "done bashisms"
