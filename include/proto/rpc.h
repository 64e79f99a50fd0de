/*
 * The RPC envelope (net/rpc.c): what a request carries besides the
 * message itself, so that the server can write the reply straight into
 * the caller's memory. Portable: kernels and host tools.
 *
 * A request is one SEND on the caller's receive ring at the server (one
 * QP per peer pair):
 *
 *   struct rpc_envelope | struct msg_header | request payload
 *
 * The reply is one WRITE_IMM from the server into the caller's window at
 * (reply_key, reply_offset), of at most reply_len bytes, with imm = tag:
 *
 *   struct msg_header (MSG_F_REPLY, same seq, status) | reply payload
 *
 * An error reply has status < 0 and no payload.
 */
#ifndef PROTO_RPC_H
#define PROTO_RPC_H

#include <stdint.h>

#define RPC_MAGIC 0x31435052u /* "RPC1" */

struct rpc_envelope {
	uint32_t magic;		    /* RPC_MAGIC */
	uint32_t tag;		    /* the caller's; the reply's immediate */
	uint64_t reply_offset;	    /* in the caller's window */
	uint32_t reply_key;	    /* caller's MR with FAB_ACCESS_REMOTE_WRITE */
	uint32_t reply_len;	    /* bytes the caller has room for */
	uint32_t expect_generation; /* server generation the caller knows; 0: none */
	uint32_t reserved;	    /* 0 */
};
_Static_assert(sizeof(struct rpc_envelope) == 32, "rpc_envelope wire size");

#endif
