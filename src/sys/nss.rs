//! Name-service lookups (`user=`, `chown=`, `~user`, host names) in the statically linked
//! daemon (see `.cargo/config.toml`).
//!
//! A static glibc still `dlopen`s the shared NSS modules named in `/etc/nsswitch.conf`
//! (`systemd`, `sss`, `ldap`, `mdns`, ...); they bring a second, uninitialised copy of libc
//! into the process and may crash it (`libnss_systemd` does, in `getgrouplist`). The modules
//! built into libc are safe, so lookups are restricted to them: `files` for users and groups,
//! `files dns` for hosts; `crate::users` asks `getent(1)` for users and groups `files` does not
//! know. Documented in docs/compatibility.md.

use std::ffi::{c_char, c_int, CStr};

extern "C" {
    /// glibc's `__nss_configure_lookup(db, line)`: replaces a database's `nsswitch.conf` line
    /// for this process.
    fn __nss_configure_lookup(db: *const c_char, service_line: *const c_char) -> c_int;
}

/// Restricts lookups before `main`, from `.init_array` (run by libc's startup code once it is
/// initialised): in every binary linking this library, the daemon and the test binaries alike,
/// the restriction is in place before the first lookup and before any thread exists.
#[used]
#[link_section = ".init_array"]
static USE_BUILTIN_MODULES: extern "C" fn() = use_builtin_modules;

/// Replaces each database's `nsswitch.conf` line by the modules built into libc.
extern "C" fn use_builtin_modules() {
    let lines: [(&CStr, &CStr); 4] = [
        (c"passwd", c"files"),
        (c"group", c"files"),
        (c"initgroups", c"files"),
        (c"hosts", c"files dns"),
    ];
    for (db, line) in lines {
        // SAFETY: both arguments are valid NUL-terminated strings; glibc copies what it keeps.
        // Runs at startup, before any other thread exists, as glibc requires.
        unsafe { __nss_configure_lookup(db.as_ptr(), line.as_ptr()) };
    }
}
