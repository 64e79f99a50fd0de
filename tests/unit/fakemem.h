/*
 * Fake physical memory for the parser tests and fuzzers (bootinfo, ACPI).
 *
 * Regions of zeroed host memory sit at chosen physical addresses; tests
 * write structures into them and hand fakemem_read to the parser as its
 * phys() accessor. Every read returns a fresh heap copy of exactly the bytes
 * asked for, so AddressSanitizer reports any access past the length the
 * parser asked the accessor for. Not thread-safe (one parser at a time).
 */
#ifndef UNIT_FAKEMEM_H
#define UNIT_FAKEMEM_H

#include <stddef.h>
#include <stdint.h>

/* Frees every region and every copy handed out. */
void fakemem_reset(void);

/* Adds a zeroed region [pa, pa + size) and returns its writable bytes. */
uint8_t *fakemem_add(uint64_t pa, size_t size);

/* Writable pointer to len bytes at pa inside one region, or NULL. */
uint8_t *fakemem_ptr(uint64_t pa, size_t len);

/* The accessor: a copy of [pa, pa + len), or NULL unless one region holds
 * all of it. */
const void *fakemem_read(uint64_t pa, size_t len);

/* Number of fakemem_read calls since the last reset. */
unsigned long fakemem_reads(void);

#endif
