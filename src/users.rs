//! User and group lookups (`user=`, `chown=`, `~user`, supplementary groups), in one place.
//!
//! The release daemon links glibc statically, and a static glibc only uses its built-in NSS
//! modules (`files` for users and groups, see `sys::nss`). So that users and groups known only
//! to other modules (LDAP, SSSD, systemd's dynamic users) are still found, a lookup that
//! `files` cannot answer asks `getent(1)`, a dynamically linked program that uses every module
//! `/etc/nsswitch.conf` names. Dynamic builds use NSS directly and never run it.

use nix::unistd::{Gid, Group, Uid, User};

/// The user called `name`.
pub fn user_by_name(name: &str) -> Option<User> {
    User::from_name(name)
        .ok()
        .flatten()
        .or_else(|| getent::user(name))
}

/// The user with `uid`.
pub fn user_by_uid(uid: u32) -> Option<User> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .or_else(|| getent::user(&uid.to_string()))
}

/// The group called `name`.
pub fn group_by_name(name: &str) -> Option<Group> {
    Group::from_name(name)
        .ok()
        .flatten()
        .or_else(|| getent::group(name))
}

/// The group with `gid`.
pub fn group_by_gid(gid: u32) -> Option<Group> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .or_else(|| getent::group(&gid.to_string()))
}

/// The groups `user` belongs to besides `gid` (its primary group), as `getgrouplist` lists them
/// (without `gid`), in their order.
pub fn supplementary_groups(user: &User) -> Vec<u32> {
    let listed = match std::ffi::CString::new(user.name.as_str()) {
        Ok(name) => nix::unistd::getgrouplist(&name, user.gid).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut groups: Vec<u32> = listed
        .into_iter()
        .filter(|&g| g != user.gid)
        .map(Gid::as_raw)
        .collect();
    // Groups from other modules (a local user in LDAP groups): empty in dynamic builds.
    for g in getent::initgroups(&user.name) {
        if g != user.gid.as_raw() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

#[cfg(target_feature = "crt-static")]
mod getent {
    use std::ffi::CString;
    use std::io::Read;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use nix::unistd::{Gid, Group, Uid, User};

    /// How long a lookup may take: an unreachable directory server must not stall the daemon
    /// (lookups run on its one thread) for the module's own, much longer, timeouts.
    const DEADLINE: Duration = Duration::from_secs(3);

    /// The first line `getent <database> <key>` prints, if it finds the key in time.
    fn lookup(database: &str, key: &str) -> Option<String> {
        let mut child = Command::new("getent")
            .args([database, "--", key])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        };
        let mut text = String::new();
        child.stdout.take()?.read_to_string(&mut text).ok()?;
        status
            .success()
            .then(|| text.lines().next().map(str::to_owned))
            .flatten()
    }

    /// `name:passwd:uid:gid:gecos:dir:shell`.
    pub(super) fn user(key: &str) -> Option<User> {
        let line = lookup("passwd", key)?;
        let f: Vec<&str> = line.split(':').collect();
        let [name, passwd, uid, gid, gecos, dir, shell] = f[..] else {
            return None;
        };
        Some(User {
            name: name.to_owned(),
            passwd: CString::new(passwd).ok()?,
            uid: Uid::from_raw(uid.parse().ok()?),
            gid: Gid::from_raw(gid.parse().ok()?),
            gecos: CString::new(gecos).ok()?,
            dir: PathBuf::from(dir),
            shell: PathBuf::from(shell),
        })
    }

    /// `name:passwd:gid:member,member`.
    pub(super) fn group(key: &str) -> Option<Group> {
        let line = lookup("group", key)?;
        let f: Vec<&str> = line.split(':').collect();
        let [name, passwd, gid, members] = f[..] else {
            return None;
        };
        Some(Group {
            name: name.to_owned(),
            passwd: CString::new(passwd).ok()?,
            gid: Gid::from_raw(gid.parse().ok()?),
            mem: members
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// `name gid gid ...`: the user's groups from every module.
    pub(super) fn initgroups(name: &str) -> Vec<u32> {
        lookup("initgroups", name)
            .map(|line| {
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|g| g.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Dynamic builds: NSS already asked every module; there is nothing to fall back to.
#[cfg(not(target_feature = "crt-static"))]
mod getent {
    use nix::unistd::{Group, User};

    pub(super) fn user(_key: &str) -> Option<User> {
        None
    }

    pub(super) fn group(_key: &str) -> Option<Group> {
        None
    }

    pub(super) fn initgroups(_name: &str) -> Vec<u32> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_and_groups_by_name_and_number() {
        let root = user_by_name("root").expect("root");
        assert_eq!(root.uid.as_raw(), 0);
        assert_eq!(user_by_uid(0).map(|u| u.name), Some("root".into()));
        assert_eq!(group_by_gid(0).map(|g| g.name), Some("root".into()));
        assert_eq!(group_by_name("root").map(|g| g.gid.as_raw()), Some(0));
        assert!(user_by_name("no-such-user-here").is_none());
        assert!(!supplementary_groups(&root).contains(&0));
    }

    #[cfg(target_feature = "crt-static")]
    #[test]
    fn getent_parses_what_files_also_knows() {
        let user = getent::user("nobody").expect("getent passwd nobody");
        let files = User::from_name("nobody").unwrap().unwrap();
        assert_eq!(
            (user.uid, user.gid, user.dir),
            (files.uid, files.gid, files.dir)
        );
        let group = getent::group("0").expect("getent group 0");
        assert_eq!(group.name, "root");
    }
}
