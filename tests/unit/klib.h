/*
 * The kernel's string and printf routines as the tests see them: declared
 * under their k_ names (rename.h explains why), while memcpy, snprintf etc.
 * keep meaning the host C library's. Include after any host header.
 */
#ifndef UNIT_KLIB_H
#define UNIT_KLIB_H

#include "rename.h"
#include <lib/printf.h>
#include <lib/string.h>

#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef memchr
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef strlcpy
#undef vsnprintf
#undef snprintf

#endif
