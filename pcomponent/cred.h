/*
 * Credentials of a process (pcomponent/cred.c): Linux's user and group
 * ids (real, effective, saved, file system) and supplementary groups,
 * with the rules of the set*id calls and of kill's permission check.
 *
 * Portable (no locks, no user memory): the system calls (sysproc.c)
 * decode their arguments, copy the process's credentials under its
 * lock, apply one of these rules to the copy and store it back only if
 * it succeeded. Host unit tests: tests/unit/test_cred.c.
 *
 * Privilege is Linux's CAP_SETUID / CAP_SETGID / CAP_KILL, which a
 * process here has exactly when its effective uid is 0 (no capability
 * sets, no file capabilities, no setuid binaries: exec keeps the ids).
 */
#ifndef PCOMPONENT_CRED_H
#define PCOMPONENT_CRED_H

#include <proto/file.h>
#include <stdbool.h>
#include <stdint.h>

#define CRED_NGROUPS 32		   /* supplementary groups (Linux: 65536) */
#define CRED_KEEP    0xffffffffu /* (uid_t)-1: "leave this one" */

struct cred {
	uint32_t uid, euid, suid, fsuid; /* real, effective, saved, file system */
	uint32_t gid, egid, sgid, fsgid;
	uint32_t ngroups;		  /* used entries of groups, ascending */
	uint32_t groups[CRED_NGROUPS];
};

/* Everything 0, no supplementary groups: what a process `run` starts has. */
void cred_root(struct cred *c);

/*
 * The set*id rules, as Linux's kernel/sys.c: with privilege (euid 0)
 * anything; without, each new id must be one the process has (setuid,
 * setgid: the real or saved one; setre*id: the real may become the
 * effective, the effective any of real, effective, saved; setres*id:
 * each any of the three). CRED_KEEP leaves an id as it is. The file
 * system id follows the effective one. setreuid/setregid set the saved
 * id to the new effective one when the real one is set or the effective
 * one becomes other than the old real one. Return 0 with *c changed, or
 * -EPERM / -EINVAL (setuid(-1), setgid(-1)) with *c untouched.
 */
int cred_setuid(struct cred *c, uint32_t uid);
int cred_setgid(struct cred *c, uint32_t gid);
int cred_setreuid(struct cred *c, uint32_t ruid, uint32_t euid);
int cred_setregid(struct cred *c, uint32_t rgid, uint32_t egid);
int cred_setresuid(struct cred *c, uint32_t ruid, uint32_t euid, uint32_t suid);
int cred_setresgid(struct cred *c, uint32_t rgid, uint32_t egid, uint32_t sgid);

/* setfsuid/setfsgid: the old file system id; the new one is taken when
 * privileged or one of the real, effective, saved or file system ids
 * (else nothing changes, as Linux: no error). */
uint32_t cred_setfsuid(struct cred *c, uint32_t fsuid);
uint32_t cred_setfsgid(struct cred *c, uint32_t fsgid);

/* setgroups: n groups (any order, repeats kept) become the supplementary
 * groups, sorted. -EPERM without privilege, -EINVAL if n > CRED_NGROUPS. */
int cred_setgroups(struct cred *c, const uint32_t *groups, uint32_t n);

/* Whether sender may signal target (Linux's kill_ok_by_cred): privileged,
 * or its real or effective uid is the target's real or saved uid. */
bool cred_may_signal(const struct cred *sender, const struct cred *target);

/* What the storage node checks (include/proto/file.h): the file system
 * ids and the first FS_NGROUPS supplementary groups. */
void cred_to_fs(const struct cred *c, struct fs_cred *out);

#endif
