/*
 * 16550 UARTs: COM1, the kernel console of every component, and COM2, the
 * processor's hostlink to the `tessera` CLI (kernel/hostlink.c,
 * include/proto/hostlink.h).
 *
 * COM1 output is polled: QEMU's UART transmits at once, and polling keeps
 * the console usable from panic and exception context. COM1 input is
 * polled too (ktest_cluster_sync reads it, sleeping between polls).
 *
 * COM2 is optional hardware: serial2_probe() looks for it through the
 * scratch register (an absent port reads 0xff). Its input is interrupt
 * driven: IRQ 3 through the IOAPIC to the boot CPU; the handler moves
 * every waiting byte into a ring (rx_lock) and calls the consumer's
 * function, which wakes a thread. So the reader sleeps until bytes come.
 * A full ring drops bytes and remembers that it did, so the reader can
 * throw away the damaged line. COM2 output never drops a byte: the writer
 * waits for the transmitter (briefly spinning, then sleeping), which
 * makes serial2_write a thread-context call.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <drivers/serial.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>

#define COM1	  0x3f8
#define COM2	  0x2f8
#define COM2_IRQ  3
#define FIFO_SIZE 16 /* bytes the 16550 transmit FIFO takes when empty */

enum {
	UART_DATA = 0,
	UART_IER = 1,
	UART_FCR = 2, /* write */
	UART_IIR = 2, /* read */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_SCR = 7,
};

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20
#define IER_RX	       0x01
#define MCR_DTR_RTS    0x03
#define MCR_OUT2       0x08 /* gates the UART's interrupt line on PCs */

static void uart_setup(uint16_t base, uint8_t mcr)
{
	outb(base + UART_IER, 0x00);
	outb(base + UART_LCR, 0x80);  /* DLAB: set the divisor */
	outb(base + UART_DATA, 0x01); /* 115200 baud */
	outb(base + UART_IER, 0x00);
	outb(base + UART_LCR, 0x03); /* 8N1 */
	outb(base + UART_FCR, 0xc7); /* FIFOs on, cleared, RX trigger 14 bytes */
	outb(base + UART_MCR, mcr);
}

void serial_init(void)
{
	uart_setup(COM1, MCR_DTR_RTS);
}

static void serial_putc(char c)
{
	for (int spins = 0; spins < 100000; spins++)
		if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
			break;
	outb(COM1 + UART_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

int serial_getc(void)
{
	if (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
		return -1;
	return inb(COM1 + UART_DATA);
}

/* ---- COM2 ------------------------------------------------------------------ */

#define RX_RING 16384 /* a power of two */

static bool com2_present; /* set once by serial2_probe */
static struct spinlock rx_lock = SPINLOCK_INIT("com2-rx");
static char rx_ring[RX_RING];	  /* under rx_lock */
static uint32_t rx_head, rx_tail; /* under rx_lock; free-running */
static bool rx_lost;		  /* under rx_lock: bytes dropped since the last read */
static void (*rx_fn)(void *arg);  /* set once by serial2_enable_rx */
static void *rx_arg;

bool serial2_probe(void)
{
	outb(COM2 + UART_SCR, 0xa5);
	if (inb(COM2 + UART_SCR) != 0xa5)
		return false;
	outb(COM2 + UART_SCR, 0x5a);
	if (inb(COM2 + UART_SCR) != 0x5a || inb(COM2 + UART_LSR) == 0xff)
		return false;
	uart_setup(COM2, MCR_DTR_RTS | MCR_OUT2);
	com2_present = true;
	return true;
}

static void com2_irq(struct trap_frame *tf, void *unused)
{
	bool got = false;

	spin_lock(&rx_lock);
	/* Drain everything: the interrupt is edge-triggered, and the line
	 * drops only once the receive FIFO is empty. Bounded against a
	 * broken device that always says "data ready". */
	for (unsigned n = 0; n < RX_RING && (inb(COM2 + UART_LSR) & LSR_DATA_READY);
	     n++) {
		char c = (char)inb(COM2 + UART_DATA);

		if (rx_tail - rx_head < RX_RING)
			rx_ring[rx_tail++ % RX_RING] = c;
		else
			rx_lost = true;
		got = true;
	}
	(void)inb(COM2 + UART_IIR);
	spin_unlock(&rx_lock);
	if (got && rx_fn)
		rx_fn(rx_arg);
}

int serial2_enable_rx(void (*fn)(void *arg), void *arg)
{
	if (!com2_present)
		return -ENODEV;
	if (rx_fn)
		return -EBUSY;
	rx_fn = fn;
	rx_arg = arg;
	trap_register(VEC_IRQ_BASE + COM2_IRQ, com2_irq, NULL);
	ioapic_route_isa(COM2_IRQ, VEC_IRQ_BASE + COM2_IRQ, cpus[0].apic_id);
	outb(COM2 + UART_IER, IER_RX);
	/* Bytes that came before the interrupt was on raised no edge. */
	irq_push();
	com2_irq(NULL, NULL);
	irq_pop();
	return 0;
}

size_t serial2_read(char *buf, size_t n, bool *lost)
{
	size_t got = 0;

	spin_lock(&rx_lock);
	while (got < n && rx_head != rx_tail)
		buf[got++] = rx_ring[rx_head++ % RX_RING];
	if (lost)
		*lost = rx_lost;
	rx_lost = false;
	spin_unlock(&rx_lock);
	return got;
}

bool serial2_rx_pending(void)
{
	bool pending;

	spin_lock(&rx_lock);
	pending = rx_head != rx_tail || rx_lost;
	spin_unlock(&rx_lock);
	return pending;
}

/* Waits until the transmit FIFO is empty: spins a little, then sleeps. */
static void com2_wait_tx(void)
{
	for (unsigned spins = 0; !(inb(COM2 + UART_LSR) & LSR_THR_EMPTY); spins++) {
		if (spins < 64)
			continue;
		thread_sleep_ns(50 * NS_PER_US);
	}
}

void serial2_write(const char *s, size_t len)
{
	if (!com2_present)
		return;
	while (len) {
		size_t chunk = len < FIFO_SIZE ? len : FIFO_SIZE;

		com2_wait_tx();
		for (size_t i = 0; i < chunk; i++)
			outb(COM2 + UART_DATA, (uint8_t)s[i]);
		s += chunk;
		len -= chunk;
	}
}
