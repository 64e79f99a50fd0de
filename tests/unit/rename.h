/*
 * Forced into every kernel source compiled for the host tests (gcc
 * -include tests/unit/rename.h, see mk/unittest.mk).
 *
 * lib/string.c and lib/printf.c define memcpy, snprintf and friends, which
 * would clash with the host C library that the test runner and the
 * sanitizers need. Renaming at the preprocessor level turns the kernel's
 * definitions, its headers' prototypes and every kernel call site into
 * k_memcpy etc. in one step, so the kernel objects call the kernel's
 * routines (the ones under test) and the host keeps its own. Calls the
 * compiler itself emits (struct copies) still go to the host's memcpy,
 * which is harmless. Tests reach the kernel routines through klib.h.
 *
 * Keep this list in step with include/lib/string.h, include/lib/printf.h
 * and the #undefs in klib.h.
 */
#ifndef UNIT_RENAME_H
#define UNIT_RENAME_H

#define memcpy	  k_memcpy
#define memmove	  k_memmove
#define memset	  k_memset
#define memcmp	  k_memcmp
#define memchr	  k_memchr
#define strlen	  k_strlen
#define strnlen	  k_strnlen
#define strcmp	  k_strcmp
#define strncmp	  k_strncmp
#define strchr	  k_strchr
#define strlcpy	  k_strlcpy
#define vsnprintf k_vsnprintf
#define snprintf  k_snprintf

#endif
