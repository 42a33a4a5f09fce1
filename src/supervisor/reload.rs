//! `reloadConfig`'s comparison of the re-read configuration with the active groups
//! (`Supervisor.diff_to_active`): by group name, with `PartialEq` on the whole group config.

use crate::config::GroupConfig;

use super::info::ConfigDiff;

/// Groups only in `new` are added, only in `active` removed, in both but unequal changed.
/// Each list is sorted by name.
pub fn diff(active: &[&GroupConfig], new: &[GroupConfig]) -> ConfigDiff {
    let find = |name: &str| active.iter().find(|g| g.name == name);
    let mut diff = ConfigDiff::default();
    for group in new {
        match find(&group.name) {
            None => diff.added.push(group.name.clone()),
            Some(current) if **current != *group => diff.changed.push(group.name.clone()),
            Some(_) => {}
        }
    }
    for group in active {
        if !new.iter().any(|g| g.name == group.name) {
            diff.removed.push(group.name.clone());
        }
    }
    diff.added.sort();
    diff.changed.sort();
    diff.removed.sort();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GroupKind;

    fn group(name: &str, priority: i32) -> GroupConfig {
        GroupConfig {
            name: name.into(),
            priority,
            kind: GroupKind::Process,
            processes: Vec::new(),
        }
    }

    #[test]
    fn added_changed_removed() {
        let (a, b, c) = (group("a", 1), group("b", 1), group("c", 1));
        let active = [&a, &b, &c];
        let new = [group("b", 2), group("c", 1), group("d", 1)];
        let d = diff(&active, &new);
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.changed, ["b"]);
        assert_eq!(d.removed, ["a"]);
    }
}
