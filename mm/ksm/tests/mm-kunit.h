/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KUnit tests of mm registration: ksm_disable() must leave no merging
 * behind, even on an mm that ksmd already unregistered.
 */
#include <kunit/test.h>
#include <linux/sched/mm.h>

/*
 * ksmd unregisters an mm it finds without a mergeable area, clearing
 * MMF_VM_MERGEABLE but not MMF_VM_MERGE_ANY; ksm_disable() must clear
 * that too, or every new vma would be marked and registered again.
 */
static void ksm_test_disable_unregistered(struct kunit *test)
{
	struct mm_struct *mm = mm_alloc();

	KUNIT_ASSERT_NOT_NULL(test, mm);
	set_bit(MMF_VM_MERGE_ANY, &mm->flags);
	mmap_write_lock(mm);
	KUNIT_EXPECT_EQ(test, ksm_disable(mm), 0);
	mmap_write_unlock(mm);
	KUNIT_EXPECT_FALSE(test, test_bit(MMF_VM_MERGE_ANY, &mm->flags));
	KUNIT_EXPECT_FALSE(test, test_bit(MMF_VM_MERGEABLE, &mm->flags));
	mmput(mm);
}

static struct kunit_case ksm_mm_cases[] = {
	KUNIT_CASE(ksm_test_disable_unregistered),
	{}
};

static struct kunit_suite ksm_mm_suite = {
	.name = "ksm-mm",
	.test_cases = ksm_mm_cases,
};

kunit_test_suite(ksm_mm_suite);
