/* Self tests of message header building and checking. */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <lib/string.h>
#include <proto/msg.h>

struct ping_msg {
	struct msg_header h;
	struct msg_ping p;
};

KTEST(msg_header_round_trip)
{
	struct ping_msg m;

	msg_header_init(&m.h, MSG_PING, sizeof(m.p), 7, 3, 42);
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m)), 0);
	KT_EXPECT(strcmp(msg_opcode_name(MSG_PING), "PING") == 0);
	KT_EXPECT_EQ(msg_is_idempotent(MSG_PING), 1);
}

KTEST(msg_header_rejects_malformed)
{
	struct ping_msg m;

	msg_header_init(&m.h, MSG_PING, sizeof(m.p), 1, 1, 1);
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m.h) - 1), -EBADMSG);
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m) - 1), -EMSGSIZE);
	m.h.magic ^= 1;
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EBADMSG);
	m.h.magic ^= 1;
	m.h.version = 99;
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m)), -EPROTO);
	m.h.version = MSG_VERSION;
	m.h.opcode = 0x0fff;
	KT_EXPECT_EQ(msg_header_check(&m, sizeof(m)), -ENOSYS);
	KT_EXPECT(strcmp(msg_opcode_name(0x0fff), "?") == 0);
}
