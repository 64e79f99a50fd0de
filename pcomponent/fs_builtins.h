/*
 * File builtins of the processor (pcomponent/fs_builtins.c): `tessera
 * run -- ls /` and friends, on the files of this node's storage node
 * (storage= on the command line) through the file client
 * (include/net/fs_client.h). builtins.c lists them in its table.
 */
#ifndef PCOMPONENT_FS_BUILTINS_H
#define PCOMPONENT_FS_BUILTINS_H

#include <kernel/hostlink.h>

int fsb_ls(struct hostlink_run *run, int argc, char **argv);
int fsb_cat(struct hostlink_run *run, int argc, char **argv);
int fsb_stat(struct hostlink_run *run, int argc, char **argv);
int fsb_mkdir(struct hostlink_run *run, int argc, char **argv);
int fsb_rmdir(struct hostlink_run *run, int argc, char **argv);
int fsb_rm(struct hostlink_run *run, int argc, char **argv);
int fsb_mv(struct hostlink_run *run, int argc, char **argv);
int fsb_ln(struct hostlink_run *run, int argc, char **argv);
int fsb_readlink(struct hostlink_run *run, int argc, char **argv);
int fsb_truncate(struct hostlink_run *run, int argc, char **argv);
int fsb_df(struct hostlink_run *run, int argc, char **argv);
int fsb_sync(struct hostlink_run *run, int argc, char **argv);
int fsb_write(struct hostlink_run *run, int argc, char **argv);
int fsb_sum(struct hostlink_run *run, int argc, char **argv);
int fsb_as(struct hostlink_run *run, int argc, char **argv);

#endif
