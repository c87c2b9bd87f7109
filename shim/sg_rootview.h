/*
 * sg_rootview.h - root's ledger seen, read-only, from a process of another
 * uid (sg_rootview.c), so that a removal root asked for completes at the
 * last detach even when that detach is another uid's.
 */
#ifndef SG_ROOTVIEW_H
#define SG_ROOTVIEW_H
#include <stdint.h>
#include <sys/shm.h>

#include "sg_ledger.h"

/* Root's count of pending removals in this IPC namespace, read from its
 * ledger's header (and, when not 0, its pending index with it), the file
 * closed again at once: 0 when root has no ledger here.  A count of 0 is
 * kept for 10 ms.  Called only when sg_st.under_root (this process's
 * ledger is another uid's), with sg_local_lock held. */
uint32_t sg_rootview_pending(void);

/* 1 if root's pending index, as the last sg_rootview_pending() read it
 * (without root's lock: a hint, confirmed by sg_rootview_load's copy),
 * lists segment id. */
int sg_rootview_lists(int id);

/* A consistent copy of root's records of segment id (the header, the
 * intents, the pending index and that record: sg_ledger_load_objects),
 * to be closed with sg_ledger_close.  0 ok; -1 when root's ledger cannot
 * be read. */
int sg_rootview_load(int id, struct sg_ledger *copy);

#endif
