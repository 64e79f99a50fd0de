# archive.sh WORKDIR: data through tar, gzip/gunzip, md5sum/sha256sum
# and dd, on files made here with deterministic contents. Prints lines
# that must be the same on a Tessera vNode and on the host
# (tests/cluster/abi_test.py compares them); works in WORKDIR/archive,
# removed at the end.
w=${1:-/tmp}/archive
rm -rf "$w"; mkdir -p "$w" && cd "$w" || { echo "cannot enter $w"; exit 1; }

seq 1 20000 > numbers
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "line %d of the text %x\n", i, i * 7919 }' > text
dd if=/dev/zero of=zeros bs=4096 count=64 2>/dev/null
echo "== sums"
md5sum numbers text zeros
sha256sum numbers text
wc -c numbers text zeros
echo "== gzip round trip"
gzip -c numbers > numbers.gz
gzip -t numbers.gz && echo "gzip -t: ok"
gunzip -c numbers.gz | md5sum
cp text t2; gzip t2; ls t2 2>/dev/null; echo "gzip removed the original: $?"
gunzip t2.gz; cmp text t2 && echo "gunzip: same as the original"
zcat numbers.gz | tail -n 1
echo "== tar"
mkdir -p tree/sub; cp numbers tree/; cp text tree/sub/; echo small > tree/sub/small
tar cf tree.tar tree
tar tf tree.tar | sort
mkdir out; tar xf tree.tar -C out
cmp tree/numbers out/tree/numbers && cmp tree/sub/text out/tree/sub/text && echo "tar round trip: same"
tar czf tree.tgz tree; mkdir out2; tar xzf tree.tgz -C out2
md5sum out2/tree/sub/small out2/tree/numbers | awk '{ print $1 }'
echo "== dd"
dd if=numbers of=part bs=1000 skip=2 count=3 2>/dev/null; wc -c < part; md5sum < part
dd if=numbers bs=1 count=12 2>/dev/null | od -c | head -n 1
dd if=/dev/urandom of=rnd bs=512 count=8 2>/dev/null; wc -c < rnd
cd /; rm -rf "$w"
echo "done archive"
