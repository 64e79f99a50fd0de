/*
 * What the two sides of bench-storage's diagnostics agree on
 * (pcomponent/storage_bench.c measures, scomponent/blk_bench.c serves and
 * counts; scripts/bench_storage.py passes the barriers): SB_DIAG_ROUNDS
 * rounds of one stream of SB_DIAG_N calls per kind, in the order of
 * sb_stream_names, each stream ending at the barrier "diag_NAME_ROUND"
 * after the barrier "diag". Ktest images only.
 */
#ifndef NET_STORAGE_DIAG_H
#define NET_STORAGE_DIAG_H

#define SB_DIAG_N      500
#define SB_DIAG_ROUNDS 3

enum sb_stream { SB_PING, SB_BULK, SB_STAT, SB_READ_HOT, SB_NSTREAMS };
static const char *const sb_stream_names[SB_NSTREAMS] = {"ping", "bulk", "stat",
							  "read_4k_hot"};

#endif
