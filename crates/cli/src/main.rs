//! The `bosun` binary: everything lives in the library so it can be tested.

/// mimalloc rather than glibc's malloc. After a burst of large requests (the API
/// benchmark's attack: 16 clients planning 1 MiB stackfiles), glibc kept what the
/// requests had freed in its per-thread arenas: 538 MiB still resident 10 s after the
/// attack, against 51 MiB idle. mimalloc returns freed pages to the system (see the
/// README's API benchmark for the figures with it).
///
/// Built with `no_thp`: mimalloc otherwise asks for transparent huge pages on its
/// regions (`MADV_HUGEPAGE`), and where THP is `madvise` (Debian's and Ubuntu's
/// default) each 2 MiB page touched is resident whole: an idle `bosun serve` held 45
/// MiB instead of 26.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the 16th of `mi_option_e` in mimalloc 3's
/// `mimalloc.h`; the sys crate names only some options). The test below checks that
/// the option at this index is the purge delay, by its default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Purge freed memory at once rather than after mimalloc's default 1 s. A deferred
    // purge runs only when its thread next allocates, so the pages a burst freed on a
    // thread that then idles stayed resident: 10 MiB 10 s after the API attack (1.32x
    // idle), against 2 MiB (1.08x) with immediate purging.
    // SAFETY: `mi_option_set` stores one option's value; it has no preconditions, and
    // mimalloc reads the value each time it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    bosun::run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_main_sets() {
        // SAFETY: reading an option has no preconditions.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc 3's purge delay defaults to 1000 ms; another option is at this index");
    }
}
