/*
 * First instructions of every Tessera kernel.
 *
 * A multiboot loader (QEMU -kernel: Multiboot v1; GRUB2: Multiboot2) jumps to
 * _start32 in 32-bit protected mode with paging off, the magic in %eax and
 * the physical address of the boot information in %ebx. We build minimal
 * page tables mapping the first 1 GiB three times (identity, direct map,
 * kernel image), enter long mode and call kmain(magic, info) in the higher
 * half. The identity mapping is dropped once vmm_init() builds the real
 * tables.
 */
#include <arch/memlayout.h>

#define MB1_MAGIC	0x1BADB002
#define MB1_FLAGS	0x00010003 /* page-align modules, memory info, addresses */
#define MB2_MAGIC	0xE85250D6

#define CR0_PG		(1 << 31)
#define CR0_WP		(1 << 16)
#define CR4_PAE		(1 << 5)
#define EFER_MSR	0xC0000080
#define EFER_LME	(1 << 8)
#define EFER_NXE	(1 << 11)
#define PTE_P		1
#define PTE_W		2
#define PTE_PS		0x80

	.section .boot.header, "a"
	.align 8
mb1_header:
	.long MB1_MAGIC
	.long MB1_FLAGS
	.long -(MB1_MAGIC + MB1_FLAGS)
	.long mb1_header	/* header_addr */
	.long _phys_start	/* load_addr */
	.long _edata_phys	/* load_end_addr */
	.long _end_phys		/* bss_end_addr */
	.long _start32		/* entry_addr */

	.align 8
mb2_header:
	.long MB2_MAGIC
	.long 0			/* i386 protected mode */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + (mb2_header_end - mb2_header))
	/* entry address tag */
	.align 8
	.word 3, 0
	.long 12
	.long _start32
	/* end tag */
	.align 8
	.word 0, 0
	.long 8
mb2_header_end:

	.section .boot.text, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	movl	%eax, boot_magic
	movl	%ebx, boot_info
	movl	$boot_stack32_top, %esp

	/* Long mode available? (CPUID 0x80000001 EDX bit 29) */
	movl	$0x80000000, %eax
	cpuid
	cmpl	$0x80000001, %eax
	jb	no_long_mode
	movl	$0x80000001, %eax
	cpuid
	btl	$29, %edx
	jnc	no_long_mode

	/* PD: 512 x 2 MiB pages covering physical 0 .. 1 GiB. */
	movl	$boot_pd, %edi
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$(PTE_P | PTE_W | PTE_PS), %eax
	movl	%eax, (%edi,%ecx,8)
	incl	%ecx
	cmpl	$512, %ecx
	jne	1b

	/* PDPT: [0] -> PD (low 1 GiB); [510] -> PD (-2 GiB kernel image). */
	movl	$boot_pd, %eax
	orl	$(PTE_P | PTE_W), %eax
	movl	%eax, boot_pdpt
	movl	%eax, boot_pdpt + 510 * 8

	/* PML4: [0] identity, [256] direct map, [511] kernel image. */
	movl	$boot_pdpt, %eax
	orl	$(PTE_P | PTE_W), %eax
	movl	%eax, boot_pml4
	movl	%eax, boot_pml4 + 256 * 8
	movl	%eax, boot_pml4 + 511 * 8

	.globl boot_enter_long_mode
boot_enter_long_mode:		/* APs jump here from the trampoline */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	$EFER_MSR, %ecx
	rdmsr
	orl	$(EFER_LME | EFER_NXE), %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_WP), %eax
	movl	%eax, %cr0
	lgdt	boot_gdt_ptr
	ljmp	$0x08, $start64_low

no_long_mode:
	/* Say so on COM1, then stop. */
	movl	$no_lm_msg, %esi
2:	lodsb
	testb	%al, %al
	jz	3f
	movw	$0x3f8, %dx
	outb	%al, %dx
	jmp	2b
3:	hlt
	jmp	3b

	.code64
start64_low:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movabsq	$start64_high, %rax
	jmp	*%rax

	.section .boot.data, "aw"
	.align 4096
	.globl boot_pml4
boot_pml4:	.fill 512, 8, 0
boot_pdpt:	.fill 512, 8, 0
boot_pd:	.fill 512, 8, 0
boot_stack32:	.fill 256, 4, 0
boot_stack32_top:
	.globl boot_magic, boot_info
boot_magic:	.long 0
boot_info:	.long 0
	.align 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
boot_gdt_end:
	.globl boot_gdt_ptr
boot_gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt
no_lm_msg:	.asciz "tessera: this CPU has no long mode (x86-64 required)\r\n"

	.text
	.code64
start64_high:
	/*
	 * APs arrive here too. Their stack (ap_boot_stack) may lie above the
	 * boot map's first GiB, so they switch to the kernel's page tables
	 * (ap_boot_cr3) before touching it.
	 */
	movq	ap_boot_stack(%rip), %rsp
	testq	%rsp, %rsp
	jz	2f
	movq	ap_boot_cr3(%rip), %rax
	movq	%rax, %cr3
	jmp	1f
2:
	leaq	bsp_stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	movl	boot_magic, %edi
	movl	boot_info, %esi
	call	kmain
	jmp	halt_forever
1:	xorl	%ebp, %ebp
	call	smp_ap_main
halt_forever:
	cli
	hlt
	jmp	halt_forever

	.data
	.globl ap_boot_stack, ap_boot_cr3
	.align 8
ap_boot_stack:	.quad 0
ap_boot_cr3:	.quad 0

	.bss
	.align 16
bsp_stack:	.skip BOOT_STACK_SIZE
bsp_stack_top:
