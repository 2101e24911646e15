// SPDX-License-Identifier: GPL-2.0-only
/*
 * /sys/kernel/mm/ksm: KSM tunables and statistics; and KSM initialization.
 *
 * A malformed or out-of-range value is refused with -EINVAL (-ERANGE where
 * the number does not even fit, for the two knobs that always said so); a
 * change the current state forbids, with -EBUSY.  A refused write changes
 * nothing.
 */

#include <linux/debugfs.h>
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "internal.h"

/* Parsers, kept free of side effects. */

static int ksm_parse_uint(const char *buf, unsigned int *val)
{
	return kstrtouint(buf, 10, val) ? -EINVAL : 0;
}

static int ksm_parse_ulong(const char *buf, unsigned long *val)
{
	return kstrtoul(buf, 10, val) ? -EINVAL : 0;
}

static int ksm_parse_bool(const char *buf, bool *val)
{
	return kstrtobool(buf, val) ? -EINVAL : 0;
}

/* "run": 0 stop, 1 merge, 2 unmerge everything. */
static int ksm_parse_run(const char *buf, unsigned int *val)
{
	if (ksm_parse_uint(buf, val) || *val > KSM_RUN_UNMERGE)
		return -EINVAL;
	return 0;
}

/* "merge_across_nodes": 0 or 1; kstrtoul()'s own error passes through. */
static int ksm_parse_merge_across(const char *buf, unsigned long *val)
{
	int err = kstrtoul(buf, 10, val);

	if (err)
		return err;
	return *val > 1 ? -EINVAL : 0;
}

/* "max_page_sharing": a KSM page starts with two sharers, so at least 2. */
static int ksm_parse_max_sharing(const char *buf, int *val)
{
	int err = kstrtoint(buf, 10, val);

	if (err)
		return err;
	return *val < 2 ? -EINVAL : 0;
}

/* "advisor_mode": "none" or "scan-time". */
static int ksm_parse_advisor(const char *buf, bool *scan_time)
{
	if (sysfs_streq(buf, "scan-time"))
		*scan_time = true;
	else if (sysfs_streq(buf, "none"))
		*scan_time = false;
	else
		return -EINVAL;
	return 0;
}

/* "merge_scope": "global" or "memcg". */
static int ksm_parse_scope(const char *buf, u8 *scope)
{
	if (sysfs_streq(buf, "global"))
		*scope = KSM_SCOPE_GLOBAL;
	else if (sysfs_streq(buf, "memcg"))
		*scope = KSM_SCOPE_MEMCG;
	else
		return -EINVAL;
	return 0;
}

/* Without memory cgroups every page is charged to none: only "global". */
static bool ksm_scope_supported(u8 scope)
{
	return scope != KSM_SCOPE_MEMCG ||
	       (IS_ENABLED(CONFIG_MEMCG) && !mem_cgroup_disabled());
}

/* "advisor_target_scan_time": seconds, at least 1. */
static int ksm_parse_target_secs(const char *buf, unsigned long *val)
{
	if (ksm_parse_ulong(buf, val) || !*val)
		return -EINVAL;
	return 0;
}

static long ksm_pages_volatile(const struct ksm_stats *s)
{
	long v = s->items - s->pages_shared - s->pages_sharing -
		 s->pages_unshared;

	/* Read without locking, the sum can be off: never show < 0. */
	return max(v, 0L);
}

#ifdef CONFIG_SYSFS

#define KSM_SHOW(_name, _fmt, _val)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, _fmt "\n", _val);			\
}

/* checkpatch: MACRO_ARG_REUSE, _name is pasted into names, never evaluated */
#define KSM_RO(_name, _fmt, _val)					\
	KSM_SHOW(_name, _fmt, _val)					\
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

/* checkpatch: MACRO_ARG_REUSE, _name is pasted into names, never evaluated */
#define KSM_RW(_name, _fmt, _val)					\
	KSM_SHOW(_name, _fmt, _val)					\
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

/* A tunable that takes any value its parser accepts, with no side effect. */
/* checkpatch: MACRO_ARG_REUSE, _var is a variable, stored to and shown */
#define KSM_TUNABLE(_name, _fmt, _var, _type, _parse)			\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	_type val;							\
									\
	if (_parse(buf, &val))						\
		return -EINVAL;						\
	WRITE_ONCE(_var, val);						\
	return count;							\
}									\
KSM_RW(_name, _fmt, _var)

static ssize_t sleep_millisecs_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int ms;

	if (ksm_parse_uint(buf, &ms))
		return -EINVAL;
	WRITE_ONCE(ksm_cfg.sleep_ms, ms);
	wake_up_interruptible(&ksm_iter_wait);
	return count;
}

KSM_RW(sleep_millisecs, "%u", ksm_cfg.sleep_ms);

static ssize_t pages_to_scan_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int nr;

	/* The scan-time advisor owns the value. */
	if (ksm_advisor_active())
		return -EINVAL;
	if (ksm_parse_uint(buf, &nr))
		return -EINVAL;
	WRITE_ONCE(ksm_cfg.pages_to_scan, nr);
	return count;
}

KSM_RW(pages_to_scan, "%u", ksm_cfg.pages_to_scan);

/*
 * Stop, start, or stop and unmerge everything (the ksm_mms stay listed,
 * for when merging starts again).  A failed unmerge leaves KSM stopped.
 */
static int ksm_set_run(unsigned int want)
{
	int err;

	ksm_run_state = want;
	if (!(want & KSM_RUN_UNMERGE))
		return 0;
	/* This may fault in a lot: be the task the OOM killer picks. */
	set_current_oom_origin();
	err = ksm_unmerge_everything();
	clear_current_oom_origin();
	if (err)
		ksm_run_state = KSM_RUN_STOP;
	else
		ksm_scan_restart();
	return err;
}

static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned int want;
	int err;

	err = ksm_parse_run(buf, &want);
	if (err)
		return err;

	mutex_lock(&ksm_scan_mutex);
	ksm_wait_while_offlining();
	if (ksm_run_state != want)
		err = ksm_set_run(want);
	mutex_unlock(&ksm_scan_mutex);

	if (want & KSM_RUN_MERGE)
		wake_up_interruptible(&ksm_thread_wait);
	return err ? err : count;
}

KSM_RW(run, "%lu", ksm_run_state);

/*
 * The knobs that shape the trees change only with nothing merged: empty
 * the stable trees of the KSM folios nobody maps, or -EBUSY.
 */
static int ksm_trees_unshared(void)
{
	if (ksm_stats.pages_shared || ksm_stable_remove_all())
		return -EBUSY;
	return 0;
}

#ifdef CONFIG_NUMA
static ssize_t merge_across_nodes_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long knob;
	int err;

	err = ksm_parse_merge_across(buf, &knob);
	if (err)
		return err;

	mutex_lock(&ksm_scan_mutex);
	ksm_wait_while_offlining();
	if (ksm_cfg.merge_across_nodes != knob) {
		/* The trees change shape: only when nothing is merged. */
		err = ksm_trees_unshared();
		if (!err)
			err = ksm_use_node_roots();
		if (!err) {
			ksm_cfg.merge_across_nodes = knob;
			ksm_cfg.nr_trees = knob ? 1 : nr_node_ids;
		}
	}
	mutex_unlock(&ksm_scan_mutex);
	return err ? err : count;
}

KSM_RW(merge_across_nodes, "%u", ksm_cfg.merge_across_nodes);
#endif

KSM_TUNABLE(use_zero_pages, "%u", ksm_cfg.use_zero_pages, bool,
	    ksm_parse_bool);

static ssize_t merge_scope_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	u8 scope;
	int err;

	err = ksm_parse_scope(buf, &scope);
	if (err)
		return err;
	if (!ksm_scope_supported(scope))
		return -EOPNOTSUPP;

	mutex_lock(&ksm_scan_mutex);
	ksm_wait_while_offlining();
	if (ksm_cfg.merge_scope != scope) {
		/* KSM pages may not outlive the boundaries they merged in. */
		err = ksm_trees_unshared();
		if (!err) {
			ksm_cfg.merge_scope = scope;
			ksm_unstable_reset();
		}
	}
	mutex_unlock(&ksm_scan_mutex);
	return err ? err : count;
}

static const char *ksm_scope_str(void)
{
	return READ_ONCE(ksm_cfg.merge_scope) == KSM_SCOPE_MEMCG ?
	       "global [memcg]" : "[global] memcg";
}

KSM_RW(merge_scope, "%s", ksm_scope_str());

static ssize_t max_page_sharing_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int knob, err;

	err = ksm_parse_max_sharing(buf, &knob);
	if (err)
		return err;
	if (READ_ONCE(ksm_cfg.max_sharing) == knob)
		return count;

	mutex_lock(&ksm_scan_mutex);
	ksm_wait_while_offlining();
	if (ksm_cfg.max_sharing != knob) {
		/* Chains were cut to the old limit: only when empty. */
		err = ksm_trees_unshared();
		if (!err)
			ksm_cfg.max_sharing = knob;
	}
	mutex_unlock(&ksm_scan_mutex);
	return err ? err : count;
}

KSM_RW(max_page_sharing, "%u", ksm_cfg.max_sharing);

KSM_TUNABLE(stable_node_chains_prune_millisecs, "%u", ksm_cfg.prune_ms,
	    unsigned int, ksm_parse_uint);

KSM_TUNABLE(smart_scan, "%u", ksm_cfg.smart_scan, bool, ksm_parse_bool);

static ssize_t advisor_mode_store(struct kobject *kobj,
				  struct kobj_attribute *attr,
				  const char *buf, size_t count)
{
	bool scan_time;

	if (ksm_parse_advisor(buf, &scan_time))
		return -EINVAL;
	ksm_advisor_set(scan_time);
	return count;
}

static const char *ksm_advisor_mode_str(void)
{
	return ksm_advisor_active() ? "none [scan-time]" : "[none] scan-time";
}

KSM_RW(advisor_mode, "%s", ksm_advisor_mode_str());

KSM_TUNABLE(advisor_max_cpu, "%u", ksm_advisor_max_cpu, unsigned int,
	    ksm_parse_uint);

KSM_TUNABLE(advisor_min_pages_to_scan, "%lu", ksm_advisor_min_pages,
	    unsigned long, ksm_parse_ulong);

KSM_TUNABLE(advisor_max_pages_to_scan, "%lu", ksm_advisor_max_pages,
	    unsigned long, ksm_parse_ulong);

KSM_TUNABLE(advisor_target_scan_time, "%lu", ksm_advisor_target_secs,
	    unsigned long, ksm_parse_target_secs);

KSM_RO(pages_scanned, "%lu", ksm_stats.scanned);
KSM_RO(pages_shared, "%lu", ksm_stats.pages_shared);
KSM_RO(pages_sharing, "%lu", ksm_stats.pages_sharing);
KSM_RO(pages_unshared, "%lu", ksm_stats.pages_unshared);
KSM_RO(pages_volatile, "%ld", ksm_pages_volatile(&ksm_stats));
KSM_RO(pages_skipped, "%lu", ksm_stats.skipped);
KSM_RO(ksm_zero_pages, "%ld", atomic_long_read(&ksm_zero_pages));
KSM_RO(pages_reused, "%ld", atomic_long_read(&ksm_pages_reused));

static long ksm_general_profit(void)
{
	return ksm_profit(ksm_stats.pages_sharing,
			  atomic_long_read(&ksm_zero_pages), ksm_stats.items);
}

KSM_RO(general_profit, "%ld", ksm_general_profit());
KSM_RO(stable_node_chains, "%lu", ksm_stats.chains);
KSM_RO(stable_node_dups, "%lu", ksm_stats.dups);
KSM_RO(full_scans, "%lu", ksm_cursor.rounds);

/* Tunables first, then statistics, then the smart scan and advisor knobs. */
static struct attribute *ksm_attrs[] = {
	&run_attr.attr,
	&pages_to_scan_attr.attr,
	&sleep_millisecs_attr.attr,
	&use_zero_pages_attr.attr,
	&max_page_sharing_attr.attr,
	&stable_node_chains_prune_millisecs_attr.attr,
#ifdef CONFIG_NUMA
	&merge_across_nodes_attr.attr,
#endif
	&merge_scope_attr.attr,
	&full_scans_attr.attr,
	&pages_scanned_attr.attr,
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&pages_unshared_attr.attr,
	&pages_volatile_attr.attr,
	&stable_node_chains_attr.attr,
	&stable_node_dups_attr.attr,
	&ksm_zero_pages_attr.attr,
	&general_profit_attr.attr,
	&smart_scan_attr.attr,
	&pages_skipped_attr.attr,
	&pages_reused_attr.attr,
	&advisor_mode_attr.attr,
	&advisor_target_scan_time_attr.attr,
	&advisor_min_pages_to_scan_attr.attr,
	&advisor_max_pages_to_scan_attr.attr,
	&advisor_max_cpu_attr.attr,
	NULL,
};

static const struct attribute_group ksm_attr_group = {
	.name = "ksm",
	.attrs = ksm_attrs,
};

static int __init ksm_sysfs_register(void)
{
	int err = sysfs_create_group(mm_kobj, &ksm_attr_group);

	if (err)
		pr_err("ksm: register sysfs failed\n");
	return err;
}
#else
static int __init ksm_sysfs_register(void)
{
	/* Nobody can start ksmd: start it now. */
	ksm_run_state = KSM_RUN_MERGE;
	return 0;
}
#endif /* CONFIG_SYSFS */

/*
 * Debug knobs, for tests: "key_mask" keeps only these bits of the content
 * keys when the trees are ordered, so that keys collide at will (0: all
 * of them; the trees are then ordered by content alone).  Takes effect on
 * trees built afterwards: write it after run=2.
 */
static void __init ksm_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("ksm", NULL);

	debugfs_create_x32("key_mask", 0600, dir, &ksm_key_mask);
}

static int __init ksm_init(void)
{
	struct task_struct *ksmd;
	int err;

	err = ksm_scan_init();
	if (!err)
		err = ksm_stable_init();
	if (!err)
		err = ksm_mm_init();
	if (err)
		return err;

	ksmd = ksm_start_thread();
	if (IS_ERR(ksmd))
		return PTR_ERR(ksmd);
	err = ksm_sysfs_register();
	if (err) {
		kthread_stop(ksmd);
		return err;
	}
	ksm_hotplug_init();
	ksm_debugfs_init();
	return 0;
}
subsys_initcall(ksm_init);

#ifdef CONFIG_KSM_KUNIT_TEST
#include "tests/sysfs-kunit.h"
#endif
