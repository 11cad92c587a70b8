//! The only unsafe code in Ferry: two calls into glibc's allocator, which has no safe
//! interface. Each says why it is sound where it is made.
#![allow(unsafe_code)]

/// glibc hands memory freed at the top of its heap back to the kernel as soon as 128 KiB are
/// free, and adjusts its mmap threshold as large buffers come and go; on the data path (64 KiB
/// splice buffers, frames, TLS records) every such release came back as page faults and
/// zeroed pages, a tenth of the CPU in `BENCHMARKS.md`'s profile. Keeping up to 16 MiB and a
/// fixed threshold trades a little idle memory for that. Fewer arenas keep idle memory low
/// across tokio's worker and blocking threads.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc allocator parameters; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// With the thresholds above, glibc keeps what a burst freed: 16 MiB at the top of each heap,
/// and every free page below the top, for good. After a flood of connections (an attack on
/// the public ports, a fleet reconnecting at once) that is hundreds of MiB the process holds
/// and never uses again. Every few seconds, hand free pages back beyond those 16 MiB; on a
/// busy data path little is free, so this costs little where the tuning above matters.
pub async fn trim_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        // SAFETY: malloc_trim only returns free memory to the kernel; it is thread-safe.
        unsafe {
            libc::malloc_trim(16 << 20);
        }
    }
}
