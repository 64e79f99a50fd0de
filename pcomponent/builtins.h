/*
 * The processor's kernel builtins (pcomponent/builtins.c): the programs
 * `tessera run` starts inside the kernel, and last an unnamed entry that
 * runs every path (a name with a '/') as a user program
 * (pcomponent/process.c).
 */
#ifndef PCOMPONENT_BUILTINS_H
#define PCOMPONENT_BUILTINS_H

#include <kernel/hostlink.h>

extern const struct hostlink_program builtins[];
extern const unsigned builtins_count;

#endif
