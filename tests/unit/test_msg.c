/*
 * Tests of net/msg.c: headers built by msg_header_init pass the check, and
 * every field a hostile peer controls (magic, version, opcode, flags,
 * length, status) is refused with the documented error when it is wrong.
 */
#include "unit.h"

#include <kernel/errno.h>
#include <proto/msg.h>
#include <string.h>

struct ping_msg {
	struct msg_header h;
	struct msg_ping p;
};

static struct ping_msg ping(void)
{
	struct ping_msg m;

	memset(&m, 0, sizeof(m));
	msg_header_init(&m.h, MSG_PING, sizeof(m.p), 5, 9, 77);
	return m;
}

TEST(msg_init_fills_every_field)
{
	struct ping_msg m = ping();

	EXPECT_EQ(m.h.magic, (uint32_t)MSG_MAGIC);
	EXPECT_EQ(m.h.version, MSG_VERSION);
	EXPECT_EQ(m.h.opcode, MSG_PING);
	EXPECT_EQ(m.h.length, (uint32_t)sizeof(m));
	EXPECT_EQ(m.h.src_node, 5);
	EXPECT_EQ(m.h.src_generation, 9u);
	EXPECT_EQ(m.h.seq, 77u);
	EXPECT_EQ(m.h.flags, 0);
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), 0);
}

TEST(msg_check_refuses_bad_fields)
{
	struct ping_msg m = ping();

	EXPECT_EQ(msg_header_check(&m, 0), -EBADMSG);
	EXPECT_EQ(msg_header_check(&m, sizeof(m.h) - 1), -EBADMSG);
	EXPECT_EQ(msg_header_check(&m, sizeof(m) + 1), -EMSGSIZE);
	m.h.magic = 0;
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EBADMSG);
	m = ping();
	m.h.version = MSG_VERSION + 1;
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EPROTO);
	m = ping();
	m.h.flags = 0x8000;
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EBADMSG);
	m = ping();
	m.h.opcode = 0xffff;
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), -ENOSYS);
	m = ping();
	m.h.length = sizeof(m) - 1; /* claims less than it carries */
	EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EMSGSIZE);
}

TEST(msg_error_reply_may_omit_payload)
{
	struct ping_msg m = ping();

	m.h.flags = MSG_F_REPLY;
	m.h.status = -ENOENT;
	m.h.length = sizeof(m.h);
	EXPECT_EQ(msg_header_check(&m.h, sizeof(m.h)), 0);
	m.h.status = 0; /* a successful reply must carry its payload */
	EXPECT_EQ(msg_header_check(&m.h, sizeof(m.h)), -EMSGSIZE);
}

TEST(msg_opcode_names)
{
	EXPECT_STREQ(msg_opcode_name(MSG_PING), "PING");
	EXPECT_STREQ(msg_opcode_name(0), "?");
	EXPECT_EQ(msg_is_idempotent(MSG_PING), 1);
	EXPECT_EQ(msg_is_idempotent(0), 0);
}
