/*
 * Message headers: building them and checking received ones. Portable (no
 * arch headers): the same code runs in every kernel and in the host unit
 * tests. The per-opcode table comes from include/proto/messages.def.
 */
#include <kernel/errno.h>
#include <lib/string.h>
#include <proto/msg.h>

struct msg_type {
	unsigned opcode;
	const char *name;
	uint32_t request_size;
	uint32_t reply_size;
	int idempotent;
};

static const struct msg_type msg_types[] = {
#define MSG(name, op, req, rep, idem) { op, #name, sizeof(req), sizeof(rep), idem },
#include <proto/messages.def>
#undef MSG
};

static const struct msg_type *msg_type_of(unsigned op)
{
	for (size_t i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++)
		if (msg_types[i].opcode == op)
			return &msg_types[i];
	return NULL;
}

void msg_header_init(struct msg_header *h, enum msg_opcode op, size_t payload_len,
		     uint16_t src_node, uint32_t generation, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	h->magic = MSG_MAGIC;
	h->version = MSG_VERSION;
	h->opcode = (uint16_t)op;
	h->length = (uint32_t)(sizeof(*h) + payload_len);
	h->src_node = src_node;
	h->src_generation = generation;
	h->seq = seq;
}

int msg_header_check(const void *buf, size_t len)
{
	const struct msg_type *t;
	struct msg_header h;
	uint32_t payload;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h)); /* the buffer may be unaligned */
	if (h.magic != MSG_MAGIC)
		return -EBADMSG;
	if (h.version != MSG_VERSION)
		return -EPROTO;
	if (h.flags & ~MSG_F_REPLY)
		return -EBADMSG;
	t = msg_type_of(h.opcode);
	if (!t)
		return -ENOSYS;
	if (h.length != len || h.length > MSG_MAX_LEN)
		return -EMSGSIZE;
	payload = h.length - (uint32_t)sizeof(h);
	/* An error reply may carry no payload; anything else must be exact. */
	if ((h.flags & MSG_F_REPLY) && h.status < 0 && payload == 0)
		return 0;
	if (payload != ((h.flags & MSG_F_REPLY) ? t->reply_size : t->request_size))
		return -EMSGSIZE;
	return 0;
}

const char *msg_opcode_name(unsigned op)
{
	const struct msg_type *t = msg_type_of(op);

	return t ? t->name : "?";
}

int msg_is_idempotent(unsigned op)
{
	const struct msg_type *t = msg_type_of(op);

	return t ? t->idempotent : 0;
}
