/*
 * 16550 UARTs (drivers/serial.c): COM1 is the console of every component;
 * COM2, when the machine has one, carries a processor's hostlink
 * (kernel/hostlink.c, include/proto/hostlink.h).
 */
#ifndef DRIVERS_SERIAL_H
#define DRIVERS_SERIAL_H

#include <stdbool.h>
#include <stddef.h>

/* ---- COM1: the console ---- */

void serial_init(void);
/* Writes len bytes, turning \n into \r\n. Caller serialises (printk does). */
void serial_write(const char *s, size_t len);
/* Returns the next received byte, or -1 if none is waiting. */
int serial_getc(void);

/* ---- COM2: a byte stream to the host ---- */

/*
 * True if a UART answers at COM2 (0x2f8; checked through its scratch
 * register); it is then set up at 115200 8N1 with FIFOs. Call once, in
 * thread context, before the other serial2_ calls.
 */
bool serial2_probe(void);

/*
 * Turns on the receive interrupt (IRQ 3 through the IOAPIC, to the boot
 * CPU). From then on received bytes collect in the driver's ring and
 * fn(arg) is called in interrupt context after each batch (keep it short:
 * wake a thread). Returns 0, -ENODEV (no COM2) or -EBUSY (already on).
 */
int serial2_enable_rx(void (*fn)(void *arg), void *arg);

/*
 * Takes up to n received bytes from the ring; returns how many. *lost (if
 * not NULL) tells whether the ring overflowed and dropped bytes since the
 * previous call. Never blocks; any context.
 */
size_t serial2_read(char *buf, size_t n, bool *lost);

/* True if bytes (or news of lost bytes) wait in the ring. */
bool serial2_rx_pending(void);

/*
 * Sends len bytes as they are (no \n translation), waiting for the
 * transmitter as long as it takes (sleeping): nothing is dropped. Thread
 * context; the caller serialises writers. Does nothing without COM2.
 */
void serial2_write(const char *s, size_t len);

#endif
