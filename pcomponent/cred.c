/*
 * Credentials of a process (pcomponent/cred.h): the set*id rules and
 * kill's permission check, as Linux's kernel/sys.c and kernel/signal.c
 * state them, on a struct cred the caller owns. Portable: the host unit
 * tests compile this file too.
 *
 * Each rule checks every id first and only then writes, so a refused
 * call leaves the credentials exactly as they were (the callers rely on
 * it: they store the result back only on success, but a half-changed
 * copy would be a trap for the next rule anyone adds).
 */
#include "cred.h"

#include <kernel/errno.h>
#include <lib/string.h>

void cred_root(struct cred *c)
{
	memset(c, 0, sizeof(*c));
}

/* CAP_SETUID, CAP_SETGID, CAP_KILL: held with effective uid 0. */
static bool privileged(const struct cred *c)
{
	return c->euid == 0;
}

/* Whether id is one of the three (an unprivileged process's choices). */
static bool one_of(uint32_t id, uint32_t a, uint32_t b, uint32_t c)
{
	return id == a || id == b || id == c;
}

/* The setres*id core on one id family: real, effective, saved and file
 * system id at r, e, s, fs. */
static int set_res(bool priv, uint32_t *r, uint32_t *e, uint32_t *s, uint32_t *fs,
		   uint32_t nr, uint32_t ne, uint32_t ns)
{
	if (!priv && ((nr != CRED_KEEP && !one_of(nr, *r, *e, *s)) ||
		      (ne != CRED_KEEP && !one_of(ne, *r, *e, *s)) ||
		      (ns != CRED_KEEP && !one_of(ns, *r, *e, *s))))
		return -EPERM;
	if (nr != CRED_KEEP)
		*r = nr;
	if (ne != CRED_KEEP)
		*e = ne;
	if (ns != CRED_KEEP)
		*s = ns;
	*fs = *e;
	return 0;
}

/* The setre*id core on one id family. */
static int set_re(bool priv, uint32_t *r, uint32_t *e, uint32_t *s, uint32_t *fs,
		  uint32_t nr, uint32_t ne)
{
	uint32_t old_r = *r;

	if (!priv && ((nr != CRED_KEEP && nr != *r && nr != *e) ||
		      (ne != CRED_KEEP && !one_of(ne, *r, *e, *s))))
		return -EPERM;
	if (nr != CRED_KEEP)
		*r = nr;
	if (ne != CRED_KEEP)
		*e = ne;
	if (nr != CRED_KEEP || (ne != CRED_KEEP && ne != old_r))
		*s = *e;
	*fs = *e;
	return 0;
}

/* The set*id core on one id family: privileged sets all four, else the
 * effective (and file system) one only, to the real or saved id. */
static int set_one(bool priv, uint32_t *r, uint32_t *e, uint32_t *s, uint32_t *fs,
		   uint32_t id)
{
	if (id == CRED_KEEP)
		return -EINVAL; /* (uid_t)-1 is no valid id */
	if (priv)
		*r = *s = id;
	else if (id != *r && id != *s)
		return -EPERM;
	*e = *fs = id;
	return 0;
}

int cred_setuid(struct cred *c, uint32_t uid)
{
	return set_one(privileged(c), &c->uid, &c->euid, &c->suid, &c->fsuid, uid);
}

int cred_setgid(struct cred *c, uint32_t gid)
{
	return set_one(privileged(c), &c->gid, &c->egid, &c->sgid, &c->fsgid, gid);
}

int cred_setreuid(struct cred *c, uint32_t ruid, uint32_t euid)
{
	return set_re(privileged(c), &c->uid, &c->euid, &c->suid, &c->fsuid, ruid, euid);
}

int cred_setregid(struct cred *c, uint32_t rgid, uint32_t egid)
{
	return set_re(privileged(c), &c->gid, &c->egid, &c->sgid, &c->fsgid, rgid, egid);
}

int cred_setresuid(struct cred *c, uint32_t ruid, uint32_t euid, uint32_t suid)
{
	return set_res(privileged(c), &c->uid, &c->euid, &c->suid, &c->fsuid, ruid, euid,
		       suid);
}

int cred_setresgid(struct cred *c, uint32_t rgid, uint32_t egid, uint32_t sgid)
{
	return set_res(privileged(c), &c->gid, &c->egid, &c->sgid, &c->fsgid, rgid, egid,
		       sgid);
}

/* The setfs*id core: the old id; the new one if allowed. */
static uint32_t set_fs(bool priv, uint32_t r, uint32_t e, uint32_t s, uint32_t *fs,
		       uint32_t id)
{
	uint32_t old = *fs;

	if (id != CRED_KEEP && (priv || one_of(id, r, e, s) || id == old))
		*fs = id;
	return old;
}

uint32_t cred_setfsuid(struct cred *c, uint32_t fsuid)
{
	return set_fs(privileged(c), c->uid, c->euid, c->suid, &c->fsuid, fsuid);
}

uint32_t cred_setfsgid(struct cred *c, uint32_t fsgid)
{
	return set_fs(privileged(c), c->gid, c->egid, c->sgid, &c->fsgid, fsgid);
}

int cred_setgroups(struct cred *c, const uint32_t *groups, uint32_t n)
{
	if (!privileged(c))
		return -EPERM;
	if (n > CRED_NGROUPS)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) { /* insertion sort: Linux's are sorted */
		uint32_t g = groups[i], j = i;

		while (j > 0 && c->groups[j - 1] > g) {
			c->groups[j] = c->groups[j - 1];
			j--;
		}
		c->groups[j] = g;
	}
	c->ngroups = n;
	return 0;
}

bool cred_may_signal(const struct cred *sender, const struct cred *target)
{
	return privileged(sender) || sender->euid == target->suid ||
	       sender->euid == target->uid || sender->uid == target->suid ||
	       sender->uid == target->uid;
}

void cred_to_fs(const struct cred *c, struct fs_cred *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = c->fsuid;
	out->gid = c->fsgid;
	out->ngroups = c->ngroups < FS_NGROUPS ? c->ngroups : FS_NGROUPS;
	memcpy(out->groups, c->groups, out->ngroups * sizeof(out->groups[0]));
}
