/*
 * The placement client of the global managers (include/net/mgr_client.h):
 * the one place that builds a struct mgr_place_req and checks the
 * manager's answer, so the processor (homes, `place`) and the memory
 * nodes (vRegion owners) ask the same way. Decode-then-act: an answer
 * that names a node the caller did not offer is -EPROTO, never used.
 */
#include <kernel/config.h>
#include <kernel/errno.h>
#include <net/mgr_client.h>
#include <proto/manager.h>

int mgr_place(struct rpc_node *rn, unsigned opcode, const uint16_t *nodes, unsigned n,
	      uint32_t pid, uint64_t vregion, uint64_t timeout_ns)
{
	struct mgr_place_req rq = {.n = n, .pid = pid, .vregion = vregion};
	struct mgr_node_reply rp = {0};
	int err;

	if (!kconfig.manager_id || !rn)
		return -ENODEV;
	if (!n || n > MGR_MAX_CANDIDATES ||
	    (opcode != MSG_MGR_PLACE_PROCESS && opcode != MSG_MGR_PLACE_VREGION))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		rq.nodes[i] = nodes[i];
	err = rpc_call(rn, (uint16_t)kconfig.manager_id, opcode, &rq, sizeof(rq), &rp,
		       sizeof(rp), timeout_ns);
	if (err)
		return err;
	if (rp.reserved)
		return -EPROTO;
	for (unsigned i = 0; i < n; i++)
		if (nodes[i] && nodes[i] == rp.node)
			return (int)rp.node;
	return -EPROTO; /* not one we offered */
}
