// SPDX-License-Identifier: GPL-2.0-only
/*
 * KSM configuration and state shared by every file of mm/ksm/: the
 * tunables, the statistics, ksmd's cursor and run state, the list of
 * registered mms, and the roots of the trees.  internal.h says what
 * serializes each of them; nothing here calls into the other files.
 */

#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#define CREATE_TRACE_POINTS
#include <trace/events/ksm.h>

#include "internal.h"

struct ksm_config ksm_cfg = {
	.pages_to_scan = 100,
	.sleep_ms = 20,
	.prune_ms = 2000,
	.max_sharing = 256,
	.merge_across_nodes = 1,
	.nr_trees = 1,
	.use_zero_pages = false,
	.smart_scan = true,
};

unsigned long ksm_advisor_max_pages = 30000;
unsigned long ksm_advisor_min_pages = 500;
unsigned int ksm_advisor_max_cpu = 70;
unsigned long ksm_advisor_target_secs = 200;

struct ksm_stats ksm_stats;
unsigned long ksm_run_state = KSM_RUN_STOP;
/* Serializes ksmd's batches against the sysfs writes reshaping the trees. */
DEFINE_MUTEX(ksm_scan_mutex);
DECLARE_WAIT_QUEUE_HEAD(ksm_thread_wait);
DECLARE_WAIT_QUEUE_HEAD(ksm_iter_wait);
u32 ksm_zero_key __read_mostly;
/* Debug: bits of the content keys the trees look at (all by default). */
u32 ksm_key_mask __read_mostly = U32_MAX;

/* Declared in <linux/ksm.h>: zero pages KSM mapped, over all mms. */
atomic_long_t ksm_zero_pages = ATOMIC_LONG_INIT(0);
/* KSM folios taken over in place by a write fault, for sysfs. */
atomic_long_t ksm_pages_reused = ATOMIC_LONG_INIT(0);

DEFINE_SPINLOCK(ksm_list_lock);
struct ksm_mm ksm_mm_head = {
	.slot.mm_node = LIST_HEAD_INIT(ksm_mm_head.slot.mm_node),
};

struct ksm_cursor ksm_cursor = { .kmm = &ksm_mm_head };

/*
 * Smart scan holds off until this round while areas made mergeable lately
 * get their first two visits (checksum, then search): a page that failed
 * to merge so far may well match one of theirs, and must be in the
 * unstable tree to be found.
 */
unsigned long ksm_no_skip_before;

static struct rb_root ksm_single_root = RB_ROOT;
struct rb_root *ksm_stable_roots = &ksm_single_root;
int ksm_nr_roots = 1;
LIST_HEAD(ksm_migrated_nodes);

/**
 * ksm_note_new_candidates - new mergeable memory: retry every page
 *
 * Called when an area is made mergeable on request (madvise, prctl), not
 * for each new area of a process that merges everything: its allocations
 * would keep smart scan suspended for everybody.
 */
void ksm_note_new_candidates(void)
{
	WRITE_ONCE(ksm_no_skip_before, READ_ONCE(ksm_cursor.rounds) + 3);
}

#ifdef CONFIG_NUMA
/**
 * ksm_use_node_roots - give every node a stable tree root
 *
 * Done the first time merge_across_nodes is switched off, with the stable
 * tree empty and ksm_scan_mutex held.  The unstable table hashes the node
 * into its chains already.
 *
 * Return: 0, or -ENOMEM.
 */
int ksm_use_node_roots(void)
{
	struct rb_root *roots;

	if (ksm_nr_roots > 1)
		return 0;
	roots = kcalloc(nr_node_ids, sizeof(*roots), GFP_KERNEL);
	if (!roots)
		return -ENOMEM;
	ksm_stable_roots = roots;
	ksm_nr_roots = nr_node_ids;
	return 0;
}
#endif
