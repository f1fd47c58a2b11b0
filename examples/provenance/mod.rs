//! Where and when an example's figures were made: the first line of what it writes, so that a
//! figure quoted elsewhere (the README) carries its date and machine.

/// The date and time, UTC (from `date`; the seconds since 1970 where it is missing).
pub fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            format!("{} s after 1970 UTC", t.map_or(0, |d| d.as_secs()))
        })
}

/// The processor's name and the threads used.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown processor".into());
    format!("{cpu}, {} threads", rayon::current_num_threads())
}
