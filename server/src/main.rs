use clap::Parser;

fn main() -> std::process::ExitCode {
    fix_malloc_mmap_threshold();
    let cli = baton_server::config::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(baton_server::serve::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain: what failed and why, on one line.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Keeps glibc's malloc from holding on to the large buffers it has freed.
///
/// glibc serves a request above its mmap threshold (128 KiB) with a mapping of its own, given
/// back to the system when freed; but when such a block is freed it raises the threshold to that
/// size (up to 32 MiB), and the trim threshold with it. After the first argon2id hash (19 MiB:
/// the demo seed, every sign-in) every later one came from the arena of the thread that ran it,
/// and each arena kept its 19 to 58 MiB once freed: 171 MiB resident when the soak of
/// docs/RELIABILITY.md began, with under 10 MiB live (heaptrack). A threshold set explicitly
/// stays where it is, so large blocks are mapped and unmapped again; the same soak then began
/// at 16 MiB. The cost is a mapping and its page faults per large block, small
/// beside an argon2id hash or a 500-event page.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_malloc_mmap_threshold() {
    const MMAP_THRESHOLD_BYTES: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only sets a parameter of the allocator, before any other thread exists;
    // glibc takes its own lock for it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_malloc_mmap_threshold() {}
