/*
 * The placement client of the global managers (net/mgr_client.c; the
 * protocol and the policies are in include/proto/manager.h): one call
 * that asks the manager this node names (manager=) to pick one of a list
 * of candidate nodes, and checks that the answer is one of them. Used by
 * a processor for a new program's home memory node (GMM) and the `place`
 * builtin (GPM), and by a memory node for a new vRegion's owner (GMM).
 */
#ifndef NET_MGR_CLIENT_H
#define NET_MGR_CLIENT_H

#include <net/rpc.h>
#include <stdint.h>

/*
 * Sends opcode (MSG_MGR_PLACE_PROCESS or MSG_MGR_PLACE_VREGION) with the
 * candidates nodes[0..n) to kconfig.manager_id over rn and waits at most
 * timeout_ns; pid and vregion say what is placed (the manager logs them).
 * Returns the chosen node, always one of nodes, or a negative errno:
 * -ENODEV (no manager= word, or rn NULL), -EINVAL (n is 0 or more than
 * MGR_MAX_CANDIDATES, or an opcode that is not a placement), rpc_call's
 * error (the manager's: -EHOSTUNREACH when no candidate is UP), or
 * -EPROTO (a reply naming a node not offered, or with reserved set).
 * Thread context.
 */
int mgr_place(struct rpc_node *rn, unsigned opcode, const uint16_t *nodes, unsigned n,
	      uint32_t pid, uint64_t vregion, uint64_t timeout_ns);

#endif
