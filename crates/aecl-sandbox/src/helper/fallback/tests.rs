//! Unit tests of the fallback's decisions: when Landlock is too old for it and what it
//! says is exposed.

use super::{exposures, landlock_refusal, survivors};

#[test]
fn landlock_too_old_for_what_the_fallback_relies_on_refuses_the_run() {
    // The signal scope (ABI 6) only matters under the launcher's own uid.
    assert!(landlock_refusal(5, false).unwrap().contains("ABI 6"));
    assert_eq!(landlock_refusal(5, true), None);
    assert_eq!(landlock_refusal(6, false), None);
}

#[test]
fn what_stays_exposed_is_named_with_its_remedy() {
    let open = exposures(false, false).join("\n");
    assert!(open.contains("host /proc") && open.contains("hidepid=invisible"), "{open}");
    assert!(open.contains("host network namespace"), "{open}");
    assert!(open.contains("aecl's uid"), "{open}");
    let root = exposures(true, true).join("\n");
    assert!(!root.contains("host /proc") && !root.contains("aecl's uid"), "{root}");
    assert!(root.contains("host network namespace"), "{root}");
}

#[test]
fn processes_left_after_the_kill_are_reported_never_kept_quiet() {
    assert_eq!(survivors(0, false), None);
    let rounds = survivors(3, false).unwrap();
    assert!(
        rounds.contains("3 of the command's processes") && rounds.contains("cgroup"),
        "{rounds}"
    );
    assert!(survivors(1, true).unwrap().contains("after the cgroup killed the tree"));
}
