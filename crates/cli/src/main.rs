//! The `bosun` binary: everything lives in the library so it can be tested.

/// mimalloc rather than glibc's malloc. After a burst of large requests (the API
/// benchmark's attack: 16 clients planning 1 MiB stackfiles), glibc kept what the
/// requests had freed in its per-thread arenas: 538 MiB still resident 10 s after the
/// attack, against 51 MiB idle. mimalloc returns freed pages to the system (see the
/// README's API benchmark for the figures with it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bosun::run()
}
