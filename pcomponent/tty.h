/*
 * The console of a process family (pcomponent/tty.c): the files behind
 * fds 0, 1 and 2 of a program `tessera run` started, and /dev/tty.
 *
 * Output goes to the hostlink run (its out and err streams: the CLI's
 * stdout and stderr). Input comes from the host through the same run
 * (include/proto/hostlink.h): the bytes the CLI reads from its standard
 * input, then end of file. A run started with a terminal (`tessera
 * shell`, `tessera run -t`) makes the console a terminal: isatty() is
 * true, termios (TCGETS/TCSETS*, TIOCGWINSZ, TIOCGPGRP/TIOCSPGRP,
 * FIONREAD) is kept here, and a small line discipline runs on the input
 * (canonical mode with erase and kill, echo, VINTR/VQUIT/VSUSP sending
 * SIGINT/SIGQUIT/SIGTSTP to the foreground process group, VEOF). Without
 * a terminal the console answers ENOTTY to terminal ioctls, as a pipe.
 * A signal the CLI forwards (Ctrl-C on a `tessera run` without a
 * terminal) goes to the foreground process group too.
 */
#ifndef PCOMPONENT_TTY_H
#define PCOMPONENT_TTY_H

#include <stdint.h>

struct file;
struct hostlink_run;
struct tty;

/* The console of a family started by run; NULL if out of memory. The
 * foreground process group starts as fg_pgrp (the root's pid). */
struct tty *tty_create(struct hostlink_run *run, uint32_t fg_pgrp);
/* The family ended: no file of it is open any more. */
void tty_destroy(struct tty *t);
/* The files for fds 0, 1 and 2 (one reference each). -ENOMEM. */
int tty_std_files(struct tty *t, struct file *std[3]);
/* /dev/tty: the console of p's family (file.c's open sends it here);
 * -ENXIO for a family without a terminal. */
struct process;
int tty_open_dev(struct process *p, unsigned flags, struct file **out);

#endif
