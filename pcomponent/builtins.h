/*
 * The processor's kernel builtins (pcomponent/builtins.c): the programs
 * `tessera run` can start over the hostlink until user programs come with
 * the memory path.
 */
#ifndef PCOMPONENT_BUILTINS_H
#define PCOMPONENT_BUILTINS_H

#include <kernel/hostlink.h>

extern const struct hostlink_program builtins[];
extern const unsigned builtins_count;

#endif
