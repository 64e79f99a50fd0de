/*
 * Kernel log: formats into a per-call buffer, then writes whole lines to the
 * serial console under one lock, so lines from different CPUs never mix.
 * Each line is prefixed with "[seconds.micros] node: ".
 */
#include <drivers/serial.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/printf.h>
#include <lib/string.h>

#define PRINTK_BUF 512

static struct spinlock console_lock = SPINLOCK_INIT("console");
static enum log_level console_level = LOG_INFO;
static const char *node_name = "?";
static volatile int panic_mode;

void printk_set_level(enum log_level level)
{
	console_level = level;
}

void printk_set_node(const char *name)
{
	node_name = name;
}

void printk_panic_mode(void)
{
	panic_mode = 1;
}

static void console_lock_take(void)
{
	if (!panic_mode)
		spin_lock(&console_lock);
}

static void console_lock_drop(void)
{
	if (!panic_mode)
		spin_unlock(&console_lock);
}

void vprintk(enum log_level level, const char *fmt, va_list ap)
{
	char msg[PRINTK_BUF], prefix[48];
	const char *line, *end;
	uint64_t now;
	int n, plen;

	if (level > console_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg))
		n = sizeof(msg) - 1;
	now = clock_ns();
	plen = snprintf(prefix, sizeof(prefix), "[%5llu.%06llu] %s: ",
			(unsigned long long)(now / NS_PER_S),
			(unsigned long long)(now % NS_PER_S / NS_PER_US), node_name);
	if (plen >= (int)sizeof(prefix))
		plen = sizeof(prefix) - 1;

	console_lock_take();
	for (line = msg; line < msg + n; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			end = msg + n;
		serial_write(prefix, (size_t)plen);
		serial_write(line, (size_t)(end - line));
		serial_write("\n", 1);
	}
	console_lock_drop();
}

void printk(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(level, fmt, ap);
	va_end(ap);
}

void printk_raw(const char *fmt, ...)
{
	char msg[PRINTK_BUF];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		n = sizeof(msg) - 1;
	console_lock_take();
	serial_write(msg, (size_t)n);
	console_lock_drop();
}
