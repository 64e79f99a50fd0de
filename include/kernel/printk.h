/*
 * Kernel log (kernel/printk.c). Every line carries the time since boot and
 * the node's name, e.g. "[    0.012345] p0: pci: 3 devices", so the serial
 * logs of a whole cluster can be merged and still be read.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <stdarg.h>

enum log_level {
	LOG_EMERG = 0,
	LOG_ERR = 3,
	LOG_WARN = 4,
	LOG_INFO = 6,
	LOG_DEBUG = 7,
};

/* Prints one message at level if level <= the current log level. A message
 * may hold several lines; each gets the prefix. */
void printk(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vprintk(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define pr_err(...)   printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  printk(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) printk(LOG_DEBUG, __VA_ARGS__)

/* Prints raw text with no prefix and no level filter (KTAP output). */
void printk_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void printk_set_level(enum log_level level);
/* The name prefixed to every line; the string must stay valid. */
void printk_set_node(const char *name);
/* Called by panic: from now on printk ignores its lock (another CPU may
 * have died holding it). */
void printk_panic_mode(void);

#endif
