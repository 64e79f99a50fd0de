/*
 * The memory protocol: how a processor component runs a process whose
 * address space lives on a memory component (DESIGN.md section 5). Opcodes
 * MEM_* are in messages.def; the server is mcomponent/, the client the
 * processor's ExCache and syscall layer (pcomponent/).
 *
 * Processes. A process is named by the processor that runs it (the
 * request's source node, which the fabric vouches for) and a pid that the
 * processor chose: (src_node, pid) is the key on the memory side, so a
 * node can only ever touch its own processes. MEM_EXEC creates the
 * address space (or replaces it: execve) and MEM_EXIT frees it, every
 * frame and VMA included. Any other request for a (node, pid) that has
 * no address space gets -ESRCH.
 *
 * Address space. User addresses run from MEM_USER_BASE to MEM_USER_TOP,
 * cut into vRegions of MEM_VREGION_SIZE (1 GiB). The memory component
 * keeps a VMA tree per vRegion and a page for each page ever written;
 * a page never written reads as zeros. Layout made by MEM_EXEC: the ELF's
 * PT_LOAD segments, the heap (brk) from the page after the highest
 * segment, mmap space top-down from MEM_MMAP_TOP, the stack of
 * MEM_STACK_SIZE ending at MEM_STACK_TOP.
 *
 * Pages move by RDMA, never inside messages. The processor registers its
 * ExCache lines (one MR, FAB_ACCESS_REMOTE_READ | FAB_ACCESS_REMOTE_WRITE)
 * and names a line by (line_key, line_offset): MEM_MISS WRITEs the page
 * into the line before the reply (unless the reply says MEM_MISS_ZERO);
 * MEM_FLUSH, and the victim of a MEM_MISS, are READ from the line before
 * the reply. The processor does not touch the line until the reply.
 *
 * Protection. prot and access are PROT_READ (1), PROT_WRITE (2) and
 * PROT_EXEC (4), Linux's values. A miss on an address without a VMA gets
 * -EFAULT; an access the VMA's prot does not allow gets -EACCES (both
 * end in SIGSEGV for the process). mmap/munmap/mprotect/brk take Linux's
 * arguments and give Linux's errors; the processor drops the ExCache
 * lines of the range first (munmap, brk shrink: without write-back;
 * mprotect: after writing back dirty ones).
 *
 * vRegions on several nodes. A process's home (the memory node that got
 * its MEM_EXEC) keeps the whole layout: every VMA of every vRegion, and
 * which memory node owns each vRegion. The vRegions MEM_EXEC makes are
 * the home's; a vRegion that a later MEM_MMAP or MEM_BRK needs for the
 * first time is placed by the global memory manager (MGR_PLACE_VREGION
 * among the vNode's memory nodes that MEM_EXEC listed; the home itself
 * if there is no manager or it cannot be reached) and keeps that owner
 * until the process exits. The owner holds the vRegion's pages and a
 * copy of its VMAs, which the home keeps in step with MEM_REGION before
 * it answers the processor. The processor sends MEM_MISS and MEM_FLUSH
 * for a page to the page's owner; a MEM_MISS that reaches a node not
 * owning the page answers MEM_MISS_ELSEWHERE with the owner, so the
 * processor learns owners lazily from the home and caches them (owners
 * never change while the process lives). Everything else goes to the home.
 *
 * fork. MEM_FORK copies a process's address space for a child pid on the
 * same processor: the VMAs are copied, the pages shared copy-on-write
 * (a frame is copied only when one of the two stores a page into it,
 * which is a MEM_FLUSH or a victim: a whole-page write, so "copying"
 * is just taking a fresh frame). The processor writes the parent's dirty
 * lines back first, so the child sees the parent's memory as it was at
 * the fork. The home forwards the fork to the owners of remote vRegions.
 *
 * Retries. MEM_MISS and MEM_FLUSH are idempotent: a copy that arrives
 * after the processor reused the line would READ or WRITE the wrong data,
 * but their replies are small, so the RPC layer's duplicate cache answers
 * such copies without running them (include/net/rpc.h).
 */
#ifndef PROTO_MEM_H
#define PROTO_MEM_H

#include <proto/bcache.h>
#include <proto/file.h>
#include <stdint.h>

#define MEM_PAGE_SIZE	  4096u
#define MEM_USER_BASE	  0x10000ull	      /* lowest mappable address */
#define MEM_USER_TOP	  0x800000000000ull   /* first address above user space */
#define MEM_VREGION_SIZE  (1ull << 30)
#define MEM_STACK_TOP	  0x7ffffffff000ull
#define MEM_STACK_SIZE	  (8ull << 20)
#define MEM_MMAP_TOP	  0x7f0000000000ull   /* mmap without a hint: below this */
#define MEM_EXEC_PATH_MAX 512
#define MEM_EXEC_STRINGS  4096 /* argv and envp strings, NULs included */
#define MEM_MAX_NODES	  8	 /* memory nodes of a vNode (kconfig's memory=) */

#define MEM_PROT_READ  0x1
#define MEM_PROT_WRITE 0x2
#define MEM_PROT_EXEC  0x4

/* MEM_EXEC: load the ELF executable at path (read from this memory
 * node's storage= node with cred; the file needs an x bit for cred) as
 * the address space of pid, replacing any it had; a dynamic one (with
 * PT_INTERP) together with the interpreter it names, read the same way,
 * where the process starts. strings holds
 * argc argument strings then envc environment strings, each ended by a
 * NUL, strings_len bytes in all. The reply gives what the processor needs
 * to enter user mode; the initial stack (argc, argv, envp, auxv with
 * AT_PHDR, AT_PHNUM, AT_PHENT, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_UID,
 * AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_EXECFN, AT_BASE (the interpreter's
 * load address, else 0), AT_FLAGS (0), AT_CLKTCK (100); the strings and 16
 * random bytes) is already in its pages. Errors: -ENOEXEC (not a valid
 * x86-64 ELF executable), -ELIBBAD (its interpreter is not one:
 * mcomponent/elf.h), -E2BIG (the strings do not fit), the file service's
 * errors for either file (-ENOENT, -EACCES, ...), -ENOMEM (no frames).
 * memory[0..nmemory) are the vNode's memory nodes in its memory= order,
 * the receiver (the home) among them: the candidates for the process's
 * later vRegions; memory[0] is also the vNode's file cache node, whose
 * buffer cache the home's file mappings go through (mcomponent/memfile.c)
 * (nmemory 1..MEM_MAX_NODES, no node twice, the rest 0; -EINVAL else). */
struct mem_exec_req {
	uint32_t pid;
	uint32_t flags; /* 0 */
	struct fs_cred cred;
	uint32_t argc;
	uint32_t envc;
	uint32_t strings_len;
	uint32_t nmemory;
	uint16_t memory[MEM_MAX_NODES];
	char path[MEM_EXEC_PATH_MAX]; /* absolute, NUL-terminated */
	char strings[MEM_EXEC_STRINGS];
};
_Static_assert(sizeof(struct mem_exec_req) == 4696, "mem_exec_req wire size");

/* A range of the new image that is anonymous and never written (bss
 * pages past a segment's file bytes, the stack below its initial pages):
 * zero on the home, which owns its vRegion, so the processor may zero-fill
 * its misses with no message (pcomponent/excache.h, fresh ranges). */
struct mem_fresh_range {
	uint64_t start, end; /* page aligned, start < end */
	uint32_t prot;	     /* MEM_PROT_* of the mapping */
	uint32_t reserved;   /* 0 */
};
_Static_assert(sizeof(struct mem_fresh_range) == 24, "mem_fresh_range wire size");

#define MEM_EXEC_FRESH_MAX 4 /* the stack and up to three segments' bss (both images') */

struct mem_exec_reply {
	uint64_t entry; /* where user mode starts */
	uint64_t sp;	/* initial stack pointer: &argc */
	uint64_t brk;	/* initial program break */
	uint64_t frames; /* frames the image took */
	uint32_t nfresh; /* fresh[0..nfresh) are set; the rest 0 */
	uint32_t reserved; /* 0 */
	struct mem_fresh_range fresh[MEM_EXEC_FRESH_MAX];
};
_Static_assert(sizeof(struct mem_exec_reply) == 136, "mem_exec_reply wire size");

#define MEM_MISS_VICTIM	   0x1 /* request: write back the line first */
#define MEM_MISS_ZERO	   0x1 /* reply: page never written; zero the line */
#define MEM_MISS_ELSEWHERE 0x2 /* reply: owner holds the page; ask there */

/* MEM_MISS: the page of pid holding va (any address in the page) is
 * wanted in the line for access (PROT_*). home is pid's home node (the
 * receiver itself, or the home of the vRegion the receiver owns). With
 * MEM_MISS_VICTIM, the line first holds victim_pid's dirty page
 * victim_va, which the receiver owns too (victim_home: that process's
 * home): it is READ and stored before the line is overwritten, whatever
 * the answer for va. A receiver that is pid's home but not the owner of
 * va's vRegion answers MEM_MISS_ELSEWHERE with owner set, prot 0, and
 * the line untouched. */
struct mem_miss_req {
	uint32_t pid;
	uint32_t access; /* PROT_READ, PROT_WRITE or PROT_EXEC */
	uint64_t va;
	uint64_t line_offset; /* in the requester's window, page aligned */
	uint32_t line_key;
	uint32_t flags; /* MEM_MISS_VICTIM */
	uint64_t victim_va;
	uint32_t victim_pid;
	uint16_t home;
	uint16_t victim_home; /* 0 without MEM_MISS_VICTIM */
};
_Static_assert(sizeof(struct mem_miss_req) == 48, "mem_miss_req wire size");

struct mem_miss_reply {
	uint32_t prot;	/* the VMA's prot: map the line with no more */
	uint32_t flags; /* MEM_MISS_ZERO, MEM_MISS_ELSEWHERE */
	uint16_t owner; /* MEM_MISS_ELSEWHERE: the vRegion's owner; else 0 */
	uint16_t reserved0;
	uint32_t reserved1;
};
_Static_assert(sizeof(struct mem_miss_reply) == 16, "mem_miss_reply wire size");

/* MEM_FLUSH: store the dirty page va of pid (whose home is home) from the
 * line, on the node owning va's vRegion. */
struct mem_flush_req {
	uint32_t pid;
	uint32_t line_key;
	uint64_t va;
	uint64_t line_offset;
	uint16_t home;
	uint16_t reserved0; /* 0 */
	uint32_t reserved1; /* 0 */
};
_Static_assert(sizeof(struct mem_flush_req) == 32, "mem_flush_req wire size");

/* Replies that carry one number (what it is depends on the request). */
struct mem_value {
	uint64_t value;
};
_Static_assert(sizeof(struct mem_value) == 8, "mem_value wire size");

/* MEM_MMAP: mmap(addr, len, prot, flags, -1, 0) for pid. Anonymous
 * mappings, MAP_PRIVATE or MAP_SHARED (with MAP_FIXED,
 * MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_STACK, MAP_POPULATE accepted;
 * MAP_32BIT, MAP_GROWSDOWN, MAP_HUGETLB, MAP_SYNC: -ENODEV for now;
 * files: MEM_MMAP_FILE). A MAP_SHARED one is one object of len bytes on
 * the home (a new vRegion placed here; MAP_FIXED into a vRegion owned
 * elsewhere: -ENODEV): every process that maps it (its forks) reads the
 * pages any of them stored (MEM_FLUSH, a victim) at its next MEM_MISS;
 * past len (mremap): -ENXIO. Reply: the address.
 * MEM_MUNMAP: munmap(addr, len); reply value 0. MAP_SHARED file pages
 * stored since their last write-back are written to the file first.
 * MEM_MPROTECT: mprotect(addr, len, prot); reply value 0.
 * MEM_MSYNC: msync(addr, len, flags): flags (Linux MS_*) in flags, prot
 * 0; the dirty MAP_SHARED file pages of the range are written to their
 * file (MS_ASYNC too: before the reply); a page without a VMA -ENOMEM.
 * MEM_MADVISE: madvise(addr, len, advice): advice in flags, prot 0;
 * MADV_DONTNEED and MADV_FREE drop the pages of private mappings (they
 * read as zeros again, or as the file says); the hints do nothing; a
 * page without a VMA -ENOMEM (the advice applied to the rest). */
struct mem_map_req {
	uint32_t pid;
	uint32_t prot;
	uint32_t flags; /* Linux MAP_* */
	uint32_t reserved; /* 0 */
	uint64_t addr;
	uint64_t len;
};
_Static_assert(sizeof(struct mem_map_req) == 32, "mem_map_req wire size");

/*
 * MEM_MMAP_FILE: mmap(addr, len, prot, flags, fd, offset) of a regular
 * file, which the processor names by path (the file protocol is
 * stateless: include/proto/file.h; read and written with cred through
 * the memory node's storage= node) and identity (ino, gen: its inode and
 * generation, struct fs_attr; ino also for /proc/PID/maps). flags
 * as MEM_MMAP's but MAP_ANONYMOUS, with MAP_PRIVATE or MAP_SHARED (or
 * MAP_SHARED_VALIDATE); offset page aligned (-EINVAL), offset + len not
 * past 2^63 (-EOVERFLOW). The processor checked the fd's access mode.
 * A page is first read from the file on the owner at its first miss
 * (beyond the file's end within its last page: zeros; a page wholly past
 * the end: -ENXIO, a bus error for the process); MAP_PRIVATE stores stay
 * in the process's memory, MAP_SHARED ones go to the node's one copy of
 * the file's page (every process mapping the file MAP_SHARED on this
 * node misses on the same pages: one object per (ino, gen), so a new
 * file that got the inode number of an unlinked one still mapped is
 * another object) and are written back to the file at MEM_MSYNC,
 * MEM_MUNMAP, MEM_EXIT and exec (never extending it; named by (ino,
 * gen) too: once that file is gone, the write-back fails with -ESTALE
 * rather than reach a newer file of its path or number). File
 * mappings live in vRegions this node owns (a new vRegion is placed
 * here; MAP_FIXED into one owned elsewhere: -ENODEV, before anything
 * is unmapped). Reply: the address.
 */
struct mem_mmap_file_req {
	struct mem_map_req map; /* as MEM_MMAP's: pid, prot, flags, addr, len */
	uint64_t offset;	/* in the file */
	uint64_t ino;		/* the file's inode (not 0) */
	uint32_t gen;		/* and generation */
	uint32_t reserved;	/* 0 */
	struct fs_cred cred;
	char path[FS_PATH_MAX]; /* absolute, NUL-terminated */
};
_Static_assert(sizeof(struct mem_mmap_file_req) == 104 + FS_PATH_MAX,
	       "mem_mmap_file_req wire size");

/*
 * MEM_MREMAP: mremap(old_addr, old_len, new_len, flags, new_addr) of pid,
 * Linux's checks and errors. The old range must lie in one VMA (-EFAULT),
 * not a file VMA (-EINVAL for now), in vRegions this node owns (-EINVAL
 * for now). Shrinking unmaps the tail; growing extends in place if the
 * pages after it are free, else with MREMAP_MAYMOVE moves the VMA and its
 * pages (frames change owner, nothing is copied) to a new place (or
 * new_addr with MREMAP_FIXED), else -ENOMEM. The processor writes back
 * and drops its lines of the old range first. Reply: the new address.
 */
#define MEM_MREMAP_MAYMOVE 1
#define MEM_MREMAP_FIXED   2
struct mem_remap_req {
	uint32_t pid;
	uint32_t flags; /* MEM_MREMAP_* (Linux's values) */
	uint64_t old_addr;
	uint64_t old_len;
	uint64_t new_len;
	uint64_t new_addr; /* MREMAP_FIXED */
};
_Static_assert(sizeof(struct mem_remap_req) == 40, "mem_remap_req wire size");

/* MEM_BRK: brk(addr) as Linux's system call: 0 or an address outside
 * what is allowed leaves the break where it is; the reply is the break.
 * MEM_EXIT: free pid's address space; the reply is the frames freed.
 * MEM_STATS: pid 0: the node's figures; reply struct mem_stats. */
struct mem_pid_req {
	uint32_t pid;
	uint32_t reserved; /* 0 */
	uint64_t addr;	   /* MEM_BRK: the new break; MEM_MAPS: where to start;
			      0 otherwise */
};
_Static_assert(sizeof(struct mem_pid_req) == 16, "mem_pid_req wire size");

/*
 * MEM_MAPS (request: struct mem_pid_req, addr the address to start from;
 * to the home): the process's VMAs that end above addr, in address
 * order, at most MEM_MAPS_MAX of them; more set if others follow (ask
 * again from the last one's end). A mapping that crosses vRegions comes
 * as one entry per vRegion. File mappings and shared anonymous ones
 * carry their offset, inode and path (anonymous: "/dev/zero (deleted)"
 * and the object's number): the paths are NUL-terminated strings in names (name: the offset
 * of the entry's path there + 1; 0 for none); entries stop early (more
 * set) when names is full. For /proc/PID/maps.
 */
#define MEM_MAPS_MAX   64
#define MEM_MAPS_NAMES 4096
#define MEM_MAP_IMAGE  0x1  /* kind: an eagerly loaded ELF segment (self tests) */
#define MEM_MAP_HEAP   0x2  /* the brk heap */
#define MEM_MAP_STACK  0x4  /* the main stack */
#define MEM_MAP_ANON   0x8  /* anonymous mmap */
#define MEM_MAP_FILE   0x10 /* file mmap (private unless with ...) */
#define MEM_MAP_SHARED 0x20 /* ... MAP_SHARED (with MEM_MAP_FILE or MEM_MAP_ANON;
			       anonymous: named "/dev/zero (deleted)", as Linux) */

struct mem_map_entry {
	uint64_t start, end; /* [start, end), page aligned */
	uint32_t prot;	     /* MEM_PROT_* */
	uint32_t kind;	     /* one MEM_MAP_* (FILE or ANON possibly | MEM_MAP_SHARED) */
	uint64_t offset;     /* file: the offset of start; else 0 */
	uint64_t ino;	     /* file: its inode; else 0 */
	uint32_t name;	     /* file: its path's offset in names + 1; else 0 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct mem_map_entry) == 48, "mem_map_entry wire size");

struct mem_maps {
	uint32_t n;    /* entries used */
	uint32_t more; /* 1: VMAs beyond the last entry */
	struct mem_map_entry e[MEM_MAPS_MAX];
	uint32_t names_len; /* bytes of names used */
	uint32_t reserved;
	char names[MEM_MAPS_NAMES];
};
_Static_assert(sizeof(struct mem_maps) == 16 + 48 * MEM_MAPS_MAX + MEM_MAPS_NAMES,
	       "mem_maps wire size");

/* MEM_FORK (to the home of pid): child_pid (a pid of the same processor
 * with no address space on the home yet: else -EEXIST) gets a copy of
 * pid's address space, its break included; pages are shared
 * copy-on-write. Reply: the pages now shared. -ENOMEM leaves no child. */
struct mem_fork_req {
	uint32_t pid;
	uint32_t child_pid;
};
_Static_assert(sizeof(struct mem_fork_req) == 8, "mem_fork_req wire size");

/* MEM_REGION: from a process's home to the owner of one of its remote
 * vRegions, which keys what it holds by (proc_node, pid, the sender).
 *   MEM_REGION_MAP      add the VMA [start, end) with prot and vflags
 *                       (the owner's first MAP creates its part)
 *   MEM_REGION_UNMAP    drop VMAs and pages of [start, end)
 *   MEM_REGION_PROTECT  set prot on [start, end)
 *   MEM_REGION_FORK     copy every vRegion held for pid to child_pid,
 *                       pages shared copy-on-write
 *   MEM_REGION_EXIT     free everything held for pid
 *   MEM_REGION_DISCARD  free the pages of [start, end), VMAs kept
 * [start, end) lies inside one vRegion. Reply value: 0 (EXIT: frames
 * freed). Served in the order received, never calling another node, so a
 * home waiting for an owner cannot deadlock with it. */
#define MEM_REGION_MAP	   1
#define MEM_REGION_UNMAP   2
#define MEM_REGION_PROTECT 3
#define MEM_REGION_FORK	   4
#define MEM_REGION_EXIT	   5
#define MEM_REGION_DISCARD 6 /* drop the pages of [start, end), VMAs kept
				(madvise MADV_DONTNEED of private memory) */

struct mem_region_req {
	uint16_t proc_node; /* the processor running pid */
	uint16_t op;	    /* MEM_REGION_* */
	uint32_t pid;
	uint32_t child_pid; /* FORK; 0 otherwise */
	uint32_t prot;	    /* MAP, PROTECT */
	uint32_t vflags;    /* MAP: the VMA's kind (mcomponent's VMA_*) */
	uint32_t reserved;  /* 0 */
	uint64_t start, end; /* MAP, UNMAP, PROTECT, DISCARD; 0 otherwise */
};
_Static_assert(sizeof(struct mem_region_req) == 40, "mem_region_req wire size");

struct mem_stats {
	uint64_t frames_total;
	uint64_t frames_free;
	uint64_t processes;
	uint64_t vmas;
	uint64_t misses;      /* MEM_MISS served */
	uint64_t zero_misses; /* of which answered MEM_MISS_ZERO */
	uint64_t flushes;     /* pages stored: MEM_FLUSH and victims */
	uint64_t execs;
	uint64_t forks;		  /* MEM_FORK served */
	uint64_t cow_copies;	  /* stores that took a shared page's own frame */
	uint64_t remote_vregions; /* vRegions held here for other homes */
	uint64_t placed_away;	  /* vRegions this home placed on another node */
	struct bc_stats bcache;	  /* the buffer cache (include/proto/bcache.h) */
	uint64_t shm_objects;	  /* MAP_SHARED memory objects (anonymous and files) */
	uint64_t shm_pages;	  /* their pages with a frame */
};
_Static_assert(sizeof(struct mem_stats) == 176, "mem_stats wire size");

#endif
