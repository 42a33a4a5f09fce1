//! glibc malloc tuning: freed memory goes back to the system soon instead of staying with the
//! daemon.
//!
//! By default glibc grows the heap 128 KiB beyond each need and, once a large buffer (an
//! XML-RPC response listing many processes) was freed, keeps up to twice that buffer's size of
//! free memory at the top of the heap. The daemon is long-lived and mostly idle, so its
//! resident memory after a burst is what counts: about 130 KB less with 100 programs, for a
//! `brk` call when the heap grows and when a burst of 64 KiB or more ends.

/// Free memory above this at the top of the heap is returned at once.
const TRIM_THRESHOLD: libc::c_int = 64 * 1024;

/// Sets the thresholds; call once at startup, before threads exist.
pub fn return_freed_memory() {
    // SAFETY: mallopt only changes malloc's parameters; it is called before any other thread
    // exists, and with parameters and values glibc documents.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        libc::mallopt(libc::M_TOP_PAD, 0);
    }
}
