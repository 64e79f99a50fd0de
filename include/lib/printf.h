/*
 * Formatted output into a buffer (lib/printf.c).
 *
 * Supports the usual kernel subset: %d %i %u %x %X %o %p %s %c %%, flags
 * '-', '0', ' ', '+', '#', a width and precision (also '*'), and the length
 * modifiers hh h l ll z t. Returns the length the full output would have had
 * (like C99), and always NUL-terminates when size > 0.
 */
#ifndef LIB_PRINTF_H
#define LIB_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
