/*
 * fabricd's checks of hostile descriptors (see check.h). Every value a
 * guest controls passes through one of these functions before fabricd
 * touches memory because of it. Arithmetic is done so that no sum can
 * wrap: ranges are compared by differences, never by off + len.
 */
#include "check.h"

bool fab_ring_used(uint32_t head, uint32_t tail, uint32_t entries, uint32_t *used)
{
	uint32_t n = tail - head; /* free-running indices: wraps by design */

	if (n > entries)
		return false;
	*used = n;
	return true;
}

bool fab_range_within(uint64_t off, uint64_t len, uint64_t base, uint64_t size)
{
	if (off < base || len > size)
		return false;
	return off - base <= size - len;
}

bool fab_mr_valid(const struct fab_mr *mr, uint64_t window_size)
{
	if (mr->length == 0 || mr->offset < FAB_DATA_OFFSET)
		return false;
	return fab_range_within(mr->offset, mr->length, 0, window_size);
}

enum fab_mr_verdict fab_mr_check(const struct fab_mr *mr, uint32_t key, uint64_t off,
				 uint64_t len, uint32_t need, uint64_t window_size)
{
	if (mr->key != key || !fab_mr_valid(mr, window_size))
		return FAB_MR_BAD_KEY;
	if ((mr->access & need) != need)
		return FAB_MR_BAD_RIGHTS;
	if (!fab_range_within(off, len, mr->offset, mr->length))
		return FAB_MR_BAD_RANGE;
	return FAB_MR_OK;
}

static bool opcode_is_request(uint8_t op)
{
	return op == FAB_OP_SEND || op == FAB_OP_WRITE || op == FAB_OP_READ ||
	       op == FAB_OP_WRITE_IMM;
}

enum fab_status fab_wqe_check(const struct fab_wqe *w)
{
	if (!opcode_is_request(w->opcode) || (w->flags & ~FAB_WQE_FLAGS))
		return FAB_ST_LOCAL_ERR;
	if (w->length > FAB_MAX_MSG)
		return FAB_ST_LENGTH;
	if (w->src_qpn >= FAB_MAX_QPS)
		return FAB_ST_BAD_QP;
	if (w->opcode == FAB_OP_SEND && w->dst_qpn >= FAB_MAX_QPS)
		return FAB_ST_BAD_QP;
	if (w->dst_node == 0 || w->dst_node >= FAB_MAX_NODES)
		return FAB_ST_UNREACHABLE;
	return FAB_ST_OK;
}

uint32_t fab_wqe_local_access(const struct fab_wqe *w)
{
	return w->opcode == FAB_OP_READ ? FAB_ACCESS_LOCAL_WRITE : 0;
}

uint32_t fab_wqe_remote_access(const struct fab_wqe *w)
{
	switch (w->opcode) {
	case FAB_OP_WRITE:
	case FAB_OP_WRITE_IMM:
		return FAB_ACCESS_REMOTE_WRITE;
	case FAB_OP_READ:
		return FAB_ACCESS_REMOTE_READ;
	default:
		return 0;
	}
}

bool fab_wqe_uses_remote_key(const struct fab_wqe *w)
{
	return w->opcode == FAB_OP_WRITE || w->opcode == FAB_OP_READ ||
	       w->opcode == FAB_OP_WRITE_IMM;
}

enum fab_mr_verdict fab_rqe_check(const struct fab_rqe *r, const struct fab_mr *mr,
				  uint64_t window_size)
{
	return fab_mr_check(mr, r->key, r->offset, r->length, FAB_ACCESS_LOCAL_WRITE,
			    window_size);
}

bool fab_window_size_ok(uint64_t size)
{
	if (size < FAB_MIN_WINDOW || size > FAB_MAX_WINDOW)
		return false;
	return (size & (size - 1)) == 0;
}

