/*
 * Application processor start-up code, copied to AP_TRAMPOLINE_PHYS by
 * smp.c. A started AP begins here in real mode with CS = page << 8, IP = 0;
 * it loads a flat GDT, enters 32-bit protected mode and jumps to
 * boot_enter_long_mode in boot.S, which continues exactly as the boot CPU
 * did (same boot page tables) and calls smp_ap_main() on the stack the boot
 * CPU left in ap_boot_stack.
 */
#include <arch/memlayout.h>

#define TRAMP(sym) (AP_TRAMPOLINE_PHYS + ((sym) - trampoline_start))

	.section .rodata
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	TRAMP(tramp_gdt_ptr)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $TRAMP(tramp32)

	.code32
tramp32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$boot_enter_long_mode, %eax
	jmp	*%eax

	.balign 16
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
tramp_gdt_ptr:
	.word tramp_gdt_ptr - tramp_gdt - 1
	.long TRAMP(tramp_gdt)
trampoline_end:
