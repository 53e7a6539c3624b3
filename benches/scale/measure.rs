//! Runs one command as a child process and measures it: wall time, user+sys CPU time and
//! peak resident memory. The package forbids unsafe code, so instead of calling wait4 directly
//! the benchmark re-runs itself as a small measuring process (`--measure-child`) whose only
//! child is the command: its getrusage(RUSAGE_CHILDREN) after the wait is exactly what wait4
//! would report for that child and every descendant it waited for (xargs' hashers, bagit.py's
//! worker processes), and the peak RSS is the largest of them.

use nix::sys::resource::{UsageWho, getrusage};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What one run of a command cost.
#[derive(Clone, Debug, Default)]
pub struct Cost {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mb: f64,
    pub exit_code: i32,
    /// The share of the machine's CPU time that its hypervisor took for other guests while the
    /// command ran ("steal" in /proc/stat; `None` where that is not known). On a shared VM it
    /// moves wall times by tens of percent from one hour to the next: it says which runs to
    /// distrust.
    pub steal: Option<f64>,
}

/// The machine's CPU time so far, all cores, in clock ticks: (steal, all states).
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest times are within user and nice).
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().take(8).sum()))
}

/// The steal share between two [`cpu_ticks`] readings.
fn steal_between(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (before?, after?);
    let total = t1.checked_sub(t0).filter(|&t| t > 0)?;
    Some(s1.saturating_sub(s0) as f64 / total as f64)
}

/// The measuring process: `--measure-child STDOUT-FILE STDERR-FILE CMD ARGS...`. Prints
/// `wall cpu rss_kb exit` on one line.
pub fn child_main(args: &[String]) -> i32 {
    let [out, err, cmd, rest @ ..] = args else {
        eprintln!("--measure-child needs STDOUT STDERR CMD [ARGS...]");
        return 2;
    };
    let (Ok(out), Ok(err)) = (File::create(out), File::create(err)) else {
        eprintln!("--measure-child: cannot create the output files");
        return 2;
    };
    let started = Instant::now();
    let status = Command::new(cmd)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status();
    let wall = started.elapsed().as_secs_f64();
    let code = match status {
        Ok(s) => s.code().unwrap_or(-1),
        Err(e) => {
            eprintln!("--measure-child: cannot run {cmd}: {e}");
            127
        }
    };
    let (cpu, rss_kb) = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            (secs(u.user_time()) + secs(u.system_time()), u.max_rss())
        }
        Err(_) => (f64::NAN, 0),
    };
    println!("{wall} {cpu} {rss_kb} {code}");
    0
}

/// Runs `cmd` through the measuring process; the command's stdout and stderr go to
/// `<logs>/<tag>.out` and `.err`.
pub fn run(cmd: &[String], logs: &Path, tag: &str) -> Result<Cost, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let ticks_before = cpu_ticks();
    let out = logs.join(format!("{tag}.out"));
    let err = logs.join(format!("{tag}.err"));
    let o = Command::new(me)
        .arg("--measure-child")
        .arg(&out)
        .arg(&err)
        .args(cmd)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the measuring process: {e}"))?;
    let steal = steal_between(ticks_before, cpu_ticks());
    let line = String::from_utf8_lossy(&o.stdout);
    let v: Vec<&str> = line.split_whitespace().collect();
    if v.len() != 4 {
        return Err(format!("measuring process said {line:?}"));
    }
    let f = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    Ok(Cost {
        wall_s: f(v[0]),
        cpu_s: f(v[1]),
        peak_rss_mb: f(v[2]) / 1024.0,
        exit_code: v[3].parse().unwrap_or(-1),
        steal,
    })
}
