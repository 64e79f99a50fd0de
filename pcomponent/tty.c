/*
 * The console of a process family (pcomponent/tty.h).
 *
 * Output: each write is copied from user memory in chunks and sent as
 * out (fd 1's file) or err (fd 2's) lines of the run. Input: none yet,
 * reads see end of file; /dev/tty does not exist yet.
 */
#include "tty.h"

#include "file.h"

#include <kernel/errno.h>
#include <kernel/hostlink.h>
#include <kernel/mm.h>
#include <kernel/uspace.h>

#define COPY_CHUNK 512 /* bytes on the kernel stack per copy */

struct tty {
	struct hostlink_run *run;
	uint32_t fg_pgrp;
};

/* What a console file is: the tty and which stream its writes go to. */
struct tty_end {
	struct tty *tty;
	int stream; /* 1: out, 2: err */
};

static long tty_write(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	struct tty_end *e = f->priv;
	char chunk[COPY_CHUNK];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);

		if (copy_from_user(chunk, ubuf + done, n))
			return done ? (long)done : -EFAULT;
		hostlink_write(e->tty->run, e->stream, chunk, n);
		done += n;
	}
	return (long)done;
}

static long tty_read(struct file *f, uint64_t ubuf, size_t len, uint64_t *pos)
{
	return 0;
}

static void tty_release(struct file *f)
{
	kfree(f->priv);
}

static const struct file_ops tty_ops = {
	.read = tty_read,
	.write = tty_write,
	.seek = file_no_seek,
	.release = tty_release,
};

struct tty *tty_create(struct hostlink_run *run, uint32_t fg_pgrp)
{
	struct tty *t = kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	t->run = run;
	t->fg_pgrp = fg_pgrp;
	return t;
}

void tty_destroy(struct tty *t)
{
	kfree(t);
}

static struct file *tty_file(struct tty *t, unsigned flags, int stream)
{
	struct tty_end *e = kzalloc(sizeof(*e));
	struct file *f;

	if (!e)
		return NULL;
	e->tty = t;
	e->stream = stream;
	f = file_alloc(&tty_ops, flags, NULL, e);
	if (!f)
		kfree(e);
	return f;
}

int tty_std_files(struct tty *t, struct file *std[3])
{
	std[0] = tty_file(t, O_RDONLY, 1);
	std[1] = tty_file(t, O_WRONLY, 1);
	std[2] = tty_file(t, O_WRONLY, 2);
	if (std[0] && std[1] && std[2])
		return 0;
	for (int i = 0; i < 3; i++)
		if (std[i])
			file_put(std[i]);
	return -ENOMEM;
}

int tty_open_dev(struct process *p, unsigned flags, struct file **out)
{
	return -ENXIO;
}
