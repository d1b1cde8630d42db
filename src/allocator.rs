//! The binary's allocator (mimalloc), tuned for a stream processor.

/// `mi_option_purge_delay`: the same index in mimalloc 2 and 3 (the sys
/// crate names no constant for it); a test checks mimalloc 3's default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before mimalloc returns it
/// to the OS. With its default, 1 s, replay faulted in fresh zeroed pages
/// again and again (10 % of its samples in the kernel's `clear_page`);
/// 10 s keeps the steady churn of event and output buffers in the process
/// (replay 163k–221k events/s before, 234k–247k after; the restore's peak
/// RSS stayed at 1.2 GiB).
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Applies the tuning; call first thing in `main` (the benchmarks do too).
pub fn tune() {
    // SAFETY: sets one integer option of the allocator; safe at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_option_is_mimallocs_purge_delay() {
        // mimalloc 3's default (src/options.c) is 1000 ms; another option
        // would read otherwise. Tests do not run on mimalloc, nor tune it.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
