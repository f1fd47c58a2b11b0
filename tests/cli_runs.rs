//! The `alexnet` tool as a user runs it: a training run killed with SIGKILL at random
//! moments (before the first checkpoint, mid-epoch, while a checkpoint is being written) and
//! resumed each time ends exactly where an uninterrupted run does; named data folders
//! without CIFAR-10 and a device the build lacks are one-line errors.

use rand::{rngs::StdRng, Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_alexnet");

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-lab-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn train(out: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "train",
        "--dataset",
        "synthetic",
        "--per-class",
        "8",
        "--epochs",
        "3",
    ])
    .args(["--batch-size", "16", "--seed", "5", "--augment", "--out"])
    .arg(out)
    .env_remove("ALEXNET_LAB_DATA")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// A checkpoint file being written by the run started at `since`: a temporary file it made.
fn writing(dir: &Path, since: SystemTime) -> bool {
    [
        "model.safetensors.tmp",
        "optimizer.bin.tmp",
        "train_state.json.tmp",
    ]
    .iter()
    .filter_map(|f| std::fs::metadata(dir.join(f)).ok()?.modified().ok())
    .any(|t| t >= since)
}

/// `history.csv` without the timing columns.
fn history(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_like_an_uninterrupted_one() {
    let whole = tmp_dir("whole");
    let start = Instant::now();
    assert!(train(&whole).status().unwrap().success());
    // Kill moments are drawn relative to the whole run (8 epochs), so that each kill lets
    // at most two epochs finish and the plan below always has kills left to make.
    let t = start.elapsed().as_millis() as u64;

    let killed = tmp_dir("killed");
    let mut rng = StdRng::seed_from_u64(17);
    // 0: in the first 5% of the run (before the first checkpoint); 1: between 5% and 25%
    // (mid-epoch); 2: as soon as a checkpoint file is being written.
    let plan = [0, 2, 1, 2, 1, 2, 0];
    let (mut kills, mut while_writing) = (0, 0);
    for &strategy in &plan {
        let since = SystemTime::now();
        let mut child = train(&killed).arg("--resume").spawn().unwrap();
        let wait = match strategy {
            0 => rng.gen_range(0..t / 20 + 1),
            1 => rng.gen_range(t / 20..t / 4 + 1),
            _ => 60_000,
        };
        let deadline = Instant::now() + Duration::from_millis(wait);
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline || (strategy == 2 && writing(&killed, since)) {
                child.kill().unwrap(); // SIGKILL on Unix
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        match finished {
            Some(status) => {
                assert!(status.success(), "a resumed run failed: {status}");
                break;
            }
            None => {
                kills += 1;
                while_writing += usize::from(writing(&killed, since));
            }
        }
    }
    // Whatever is left of the run, resumed once more without interruption.
    if !killed.join("metrics.json").exists() {
        assert!(train(&killed).arg("--resume").status().unwrap().success());
    }
    println!("{kills} kills, {while_writing} of them with a checkpoint file half-written");
    assert!(kills >= 3, "only {kills} kills landed");
    assert_eq!(history(&whole), history(&killed));
    for file in ["model.safetensors", "optimizer.bin"] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(killed.join(file)).unwrap(),
            "{file} differs"
        );
    }
    let _ = std::fs::remove_dir_all(whole);
    let _ = std::fs::remove_dir_all(killed);
}

fn one_line_error(cmd: &mut Command) -> String {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn a_named_data_folder_without_cifar10_is_refused() {
    let empty = tmp_dir("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let out = tmp_dir("no-run");
    let err = one_line_error(
        Command::new(BIN)
            .args(["train", "--epochs", "1", "--data-dir"])
            .arg(&empty)
            .arg("--out")
            .arg(&out),
    );
    assert!(
        err.contains(&*empty.to_string_lossy()) && err.contains("holds no CIFAR-10"),
        "{err}"
    );
    let err = one_line_error(
        Command::new(BIN)
            .args(["train", "--epochs", "1", "--out"])
            .arg(&out)
            .env("ALEXNET_LAB_DATA", "/nonexistent/cifar"),
    );
    assert!(
        err.contains("/nonexistent/cifar") && err.contains("holds no CIFAR-10"),
        "{err}"
    );
    assert!(!out.exists(), "nothing was trained");
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn cuda_without_the_feature_is_a_one_line_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let err =
        one_line_error(Command::new(BIN).args(["bench", "--model", "cifar", "--device", "cuda"]));
    assert!(err.contains("--features cuda"), "{err}");
}
