/* 16550 UART on COM1: the console of every component (drivers/serial.c). */
#ifndef DRIVERS_SERIAL_H
#define DRIVERS_SERIAL_H

#include <stddef.h>

void serial_init(void);
/* Writes len bytes, turning \n into \r\n. Caller serialises (printk does). */
void serial_write(const char *s, size_t len);
/* Returns the next received byte, or -1 if none is waiting. */
int serial_getc(void);

#endif
