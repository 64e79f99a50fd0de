/*
 * Reading little-endian fields at any alignment from byte buffers that
 * came from outside (firmware tables, boot information, messages). x86 is
 * little-endian, so these are plain copies; memcpy keeps them free of
 * alignment and aliasing assumptions. Header only.
 */
#ifndef LIB_UNALIGNED_H
#define LIB_UNALIGNED_H

#include <lib/string.h>
#include <stdint.h>

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif
