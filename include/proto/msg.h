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
