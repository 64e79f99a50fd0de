/*
 * The common header of every message between components, and the opcode
 * list generated from include/proto/messages.def (net/msg.c).
 *
 * Wire rules: fixed-width little-endian fields, explicit padding, sizes
 * fixed by _Static_assert. A receiver decodes (msg_header_check) before it
 * acts; anything malformed gets a typed error reply, never a panic.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <proto/bcache.h>
#include <proto/file.h>
#include <proto/manager.h>
#include <proto/mem.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAGIC   0x4753534du /* "MSSG" little-endian */
#define MSG_VERSION 1
#define MSG_MAX_LEN 65536 /* header + payload */

#define MSG_F_REPLY 0x0001 /* a reply to the request with the same seq */

struct msg_header {
	uint32_t magic;
	uint16_t version;
	uint16_t opcode; /* enum msg_opcode */
	uint32_t length; /* header + payload, bytes */
	uint16_t src_node;
	uint16_t flags; /* MSG_F_* */
	uint32_t src_generation; /* sender's boot generation */
	int32_t status; /* replies: 0 or a negative errno */
	uint64_t seq; /* sender's sequence number; a reply echoes it */
};
_Static_assert(sizeof(struct msg_header) == 32, "msg_header wire size");

/* Payload of MSG_PING: echoed back unchanged. */
struct msg_ping {
	uint64_t cookie;
	uint64_t send_time_ns;
};
_Static_assert(sizeof(struct msg_ping) == 16, "msg_ping wire size");

/*
 * Test and benchmark services of the RPC layer (net/rpc_services.c), served
 * by every node: they prove retry, duplicate suppression and flow control
 * on a real cluster (tests/cluster/) and give the benchmark its payloads.
 */
#define MSG_COUNTER_SLOTS 64
#define MSG_BULK_BYTES	  4096
#define MSG_SLEEP_MAX_MS  2000

/* RPC_ECHO: value comes back (8-byte round trips). */
struct msg_echo {
	uint64_t value;
};
_Static_assert(sizeof(struct msg_echo) == 8, "msg_echo wire size");

/* RPC_COUNTER_ADD (not idempotent): counter[slot] += delta; the reply
 * holds the new value. RPC_COUNTER_GET: the reply holds counter[slot].
 * slot < MSG_COUNTER_SLOTS, else -EINVAL. */
struct msg_counter {
	uint32_t slot;
	uint32_t reserved; /* 0 */
	int64_t delta; /* COUNTER_ADD only; 0 otherwise */
};
_Static_assert(sizeof(struct msg_counter) == 16, "msg_counter wire size");

struct msg_counter_value {
	int64_t value;
};
_Static_assert(sizeof(struct msg_counter_value) == 8, "msg_counter_value wire size");

/* RPC_BULK: the page comes back unchanged, cookie + 1 (4 KiB each way). */
struct msg_bulk {
	uint64_t cookie;
	uint8_t data[MSG_BULK_BYTES];
};
_Static_assert(sizeof(struct msg_bulk) == 8 + MSG_BULK_BYTES, "msg_bulk wire size");

/* RPC_SLEEP: the server waits ms (at most MSG_SLEEP_MAX_MS, else -EINVAL)
 * before replying: timeouts and flow control under a slow server. */
struct msg_sleep {
	uint32_t ms;
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct msg_sleep) == 8, "msg_sleep wire size");

enum msg_opcode {
#define MSG(name, op, req, rep, idem) MSG_##name = op,
#include <proto/messages.def>
#undef MSG
};

/* Fills h for a message of payload_len bytes. */
void msg_header_init(struct msg_header *h, enum msg_opcode op, size_t payload_len,
		     uint16_t src_node, uint32_t generation, uint64_t seq);

/*
 * Checks the header at the start of a len-byte buffer received from
 * another node: magic, version, a known opcode, a length that matches the
 * buffer and the opcode's request or reply size, known flags. Returns 0 or
 * a negative errno (-EBADMSG malformed, -EPROTO wrong version, -ENOSYS
 * unknown opcode, -EMSGSIZE length mismatch).
 */
int msg_header_check(const void *buf, size_t len);

/* "PING" for MSG_PING; "?" for unknown opcodes. */
const char *msg_opcode_name(unsigned op);
/* Whether op may be retried automatically (0 for unknown opcodes). */
int msg_is_idempotent(unsigned op);

#endif
