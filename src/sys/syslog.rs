//! `syslog(3)` as Python's `syslog.syslog(msg)` uses it: facility `LOG_USER`, priority
//! `LOG_INFO`, the default ident (the program's short name), no `openlog` options.
#![allow(unsafe_code)]

use std::ffi::CString;

/// Sends one message to syslog at `LOG_USER | LOG_INFO`. NUL bytes are replaced by spaces.
pub fn info(msg: &[u8]) {
    let bytes: Vec<u8> = msg.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    let Ok(cmsg) = CString::new(bytes) else {
        return;
    };
    // SAFETY: both pointers are valid NUL-terminated C strings that outlive the call, and the
    // constant "%s" format consumes exactly the one string argument passed.
    unsafe {
        libc::syslog(
            libc::LOG_USER | libc::LOG_INFO,
            c"%s".as_ptr(),
            cmsg.as_ptr(),
        );
    }
}
