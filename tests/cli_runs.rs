//! The `alexnet` tool as a user runs it: a training run killed with SIGKILL seven times at
//! random moments (before the first checkpoint, mid-epoch, while a checkpoint is being
//! written, just after one commits) and resumed each time ends exactly where an
//! uninterrupted run does; a run on Fashion-MNIST evaluated on the set it learned; named data
//! folders without data, a checkpoint scored on another set's classes and a device the build
//! lacks are one-line errors; a run with the paper's options scored by ten-view averaging
//! beside the single view (the printed figures and the report against the library's), a
//! resume with other flags that says it keeps the saved ones, a note on the ten views of a
//! run trained without crops, and an unknown `--init` refused in one line.

use crate::reference::{empty_dir, tmp_dir};
use alexnet_lab::data::{self, synthetic};
use alexnet_lab::train::{self, checkpoint, DeviceChoice, Init};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_alexnet");
/// The epochs of the run the kill test trains.
const EPOCHS: usize = 4;

fn train(out: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "train",
        "--dataset",
        "synthetic",
        "--per-class",
        "8",
        "--epochs",
    ])
    .arg(EPOCHS.to_string())
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

/// How a resumed run is cut short.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kill {
    /// In the first 5% of the uninterrupted run's time: before this run commits anything.
    Early,
    /// Between 5% and 25% of the run's time: mid-epoch.
    MidEpoch,
    /// As soon as a checkpoint file of this run is being written (half-written).
    Writing,
    /// Once this run has committed a checkpoint (`train_state.json` counts one more epoch),
    /// within 5% of the run's time after: the renames that follow the commit may be cut
    /// short, or the next epoch has begun.
    AfterCommit,
}

/// The epochs the checkpoint in `dir` has committed (0 before the first).
fn epochs_done(dir: &Path) -> usize {
    checkpoint::read_state(dir).map_or(0, |s| s.epochs_done)
}

#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_like_an_uninterrupted_one() {
    let whole = tmp_dir("cli-whole");
    let start = Instant::now();
    assert!(train(&whole).status().unwrap().success());
    // Kill moments are drawn relative to the whole run (EPOCHS epochs), so that a timed kill
    // lands well within an epoch's time.
    let t = start.elapsed().as_millis() as u64;

    let killed = tmp_dir("cli-killed");
    let mut rng = StdRng::seed_from_u64(17);
    // Seven kills, each into a run resumed from what the previous one left. `AfterCommit`
    // lets the run go exactly one epoch further, `MidEpoch` and `Writing` almost never do:
    // about two of the EPOCHS epochs are done by the last kill, so every planned kill finds
    // the run still going, and the kills after the first commit land with a checkpoint to
    // resume from.
    let plan = [
        Kill::Early,
        Kill::Writing,
        Kill::AfterCommit,
        Kill::MidEpoch,
        Kill::Writing,
        Kill::AfterCommit,
        Kill::Early,
    ];
    let mut done = Vec::new(); // epochs committed after each kill
    for (k, &kill) in plan.iter().enumerate() {
        let before = epochs_done(&killed);
        let since = SystemTime::now();
        let mut child = train(&killed).arg("--resume").spawn().unwrap();
        let wait = match kill {
            Kill::Early => rng.gen_range(0..t / 20 + 1),
            Kill::MidEpoch => rng.gen_range(t / 20..t / 4 + 1),
            Kill::Writing | Kill::AfterCommit => 60_000,
        };
        let mut deadline = Instant::now() + Duration::from_millis(wait);
        let mut committed = false;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("kill {k} ({kill:?}) came too late: the run ended ({status}) with {before} epochs done before it");
            }
            if kill == Kill::AfterCommit && !committed && epochs_done(&killed) > before {
                committed = true;
                deadline = Instant::now() + Duration::from_millis(rng.gen_range(0..t / 20 + 1));
            }
            if Instant::now() >= deadline || (kill == Kill::Writing && writing(&killed, since)) {
                child.kill().unwrap(); // SIGKILL on Unix
                child.wait().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let after = epochs_done(&killed);
        println!(
            "kill {k} ({kill:?}) after {:?}: epochs done {before} -> {after}",
            since.elapsed().unwrap()
        );
        match kill {
            Kill::Early => assert_eq!(after, before, "kill {k}: a checkpoint before the first 5%"),
            Kill::MidEpoch => assert!(after <= before + 1, "kill {k}: more than an epoch"),
            Kill::Writing => assert!(
                writing(&killed, since),
                "kill {k}: no checkpoint file was half-written within a minute"
            ),
            Kill::AfterCommit => assert!(
                committed && after == before + 1,
                "kill {k}: no checkpoint committed within a minute ({before} -> {after})"
            ),
        }
        assert!(
            after >= before,
            "kill {k}: a committed epoch was lost ({before} -> {after})"
        );
        done.push(after);
    }
    // Every planned kill landed (a run that ended first fails above).
    println!("{} kills, epochs done after each: {done:?}", done.len());
    assert!(done[plan.len() - 1] >= 2, "{done:?}");
    // What is left of the run, resumed once more without interruption.
    assert!(train(&killed).arg("--resume").status().unwrap().success());
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
    let empty = empty_dir("cli-empty-data");
    let out = tmp_dir("cli-no-run");
    let err = one_line_error(
        Command::new(BIN)
            .args(["train", "--epochs", "1", "--data-dir"])
            .arg(&empty)
            .arg("--out")
            .arg(&out),
    );
    assert!(
        err.contains(&*empty.to_string_lossy()) && err.contains("holds neither CIFAR-10"),
        "{err}"
    );
    let err = one_line_error(
        Command::new(BIN)
            .args(["train", "--epochs", "1", "--out"])
            .arg(&out)
            .env("ALEXNET_LAB_DATA", "/nonexistent/cifar"),
    );
    assert!(
        err.contains("/nonexistent/cifar") && err.contains("holds neither CIFAR-10"),
        "{err}"
    );
    assert!(!out.exists(), "nothing was trained");
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn a_fashion_mnist_run_is_evaluated_on_the_set_it_learned() {
    use alexnet_lab::data::fashion_mnist::{self, GreySplit, GREY_PIXELS};
    let data = tmp_dir("cli-fashion-data");
    // 4 photos of each class to train on, 1 to test; photo i is class i % 10 and carries a
    // bright bar whose row is its class.
    let split = |n: usize| {
        let mut s = GreySplit::default();
        for i in 0..n {
            let mut photo = [0u8; GREY_PIXELS];
            photo[(2 + 2 * (i % 10)) * 28..(3 + 2 * (i % 10)) * 28].fill(200);
            s.grey.extend_from_slice(&photo);
            s.labels.push((i % 10) as u8);
        }
        s
    };
    fashion_mnist::write_files(&data.join(fashion_mnist::FOLDER), &split(40), &split(10)).unwrap();
    let run = tmp_dir("cli-fashion-run");
    let out = Command::new(BIN)
        .args([
            "train",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--val-size",
            "10",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("on Fashion-MNIST from")
            && text.contains("(30 train / 10 validation / 10 test images)"),
        "{text}"
    );
    // Without --dataset, evaluate takes the set the checkpoint learned (its classes say so).
    let checkpoint = run.join("model.safetensors");
    let out = Command::new(BIN)
        .args(["evaluate", "--checkpoint"])
        .arg(&checkpoint)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("10 test images") && text.contains("ankle boot"),
        "{text}"
    );
    // Asked to score it on the synthetic shapes, it refuses in one line.
    let err = one_line_error(
        Command::new(BIN)
            .args(["evaluate", "--dataset", "synthetic", "--checkpoint"])
            .arg(&checkpoint),
    );
    assert!(
        err.contains("trained on the classes") && err.contains("--dataset"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(run);
}

#[test]
fn the_cuda_device_is_a_one_line_error_without_the_feature_and_accepted_with_it() {
    // `evaluate` checks the device before it reads the checkpoint: a build without `cuda`
    // refuses the device, one with it goes on to the missing checkpoint (no GPU touched).
    let missing = tmp_dir("cli-no-checkpoint");
    let err = one_line_error(
        Command::new(BIN)
            .args(["evaluate", "--device", "cuda", "--checkpoint"])
            .arg(&missing),
    );
    let names_missing = err.contains(&*missing.to_string_lossy());
    if cfg!(feature = "cuda") {
        assert!(names_missing && !err.contains("--features cuda"), "{err}");
        println!("built with `cuda`: `bench --device cuda` would run on the GPU, not checked");
    } else {
        assert!(err.contains("--features cuda") && !names_missing, "{err}");
        let err = one_line_error(
            Command::new(BIN).args(["bench", "--model", "cifar", "--device", "cuda"]),
        );
        assert!(err.contains("--features cuda"), "{err}");
    }
}

/// Runs the tool with `args` (no data folder from the environment); fails the test, with its
/// output, if it fails. Returns (stdout, stderr).
fn run_ok(args: &[&str], paths: &[(&str, &Path)]) -> (String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("ALEXNET_LAB_DATA");
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    (stdout, stderr)
}

/// The text between `after` and the next `until` in `text`.
fn field<'a>(text: &'a str, after: &str, until: char) -> &'a str {
    let at = text
        .find(after)
        .unwrap_or_else(|| panic!("no '{after}' in: {text}"))
        + after.len();
    let rest = &text[at..];
    rest[..rest.find(until).unwrap_or(rest.len())].trim()
}

const SMALL: [&str; 6] = [
    "--dataset",
    "synthetic",
    "--per-class",
    "6",
    "--batch-size",
    "16",
];

#[test]
fn a_run_with_the_papers_options_is_scored_on_ten_views_beside_one() {
    let run = tmp_dir("cli-paper-run");
    let train_args = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["train"];
        v.extend(SMALL);
        v.extend(extra);
        v
    };
    run_ok(
        &train_args(&[
            "--epochs",
            "1",
            "--augment",
            "--pca-lighting",
            "--init",
            "paper",
        ]),
        &[("--out", &run)],
    );
    let state = checkpoint::read_state(&run).unwrap();
    assert!(state.config.pca_lighting && state.lighting.is_some());
    assert_eq!(state.config.init, Init::Paper);

    // Scored on one view and on ten, with the report written.
    let report = run.join("report");
    let evaluate = [
        "evaluate",
        "--dataset",
        "synthetic",
        "--per-class",
        "6",
        "--ten-crop",
    ];
    let (text, _) = run_ok(&evaluate, &[("--checkpoint", &run), ("--out", &report)]);
    // The same test set in the library: the synthetic set of 6 per class, the run's seed 0.
    let test = synthetic::generate(6, data::test_per_class(6), 0).test;
    let (_, one, ten) =
        train::evaluate_checkpoint_views(&run, &test, Some(data::CROP_PAD), DeviceChoice::Cpu)
            .unwrap();
    let ten = ten.unwrap();
    for x in [one.accuracy, one.loss, ten.accuracy, ten.loss] {
        assert!(x.is_finite(), "{x}");
    }
    // "ten-crop test accuracy B% (single view A%), ten-crop test loss L", to its precision.
    assert_eq!(
        field(&text, "ten-crop test accuracy ", '%'),
        format!("{:.2}", 100.0 * ten.accuracy),
        "{text}"
    );
    assert_eq!(
        field(&text, "ten-crop test loss ", '\n'),
        format!("{:.4}", ten.loss),
        "{text}"
    );
    assert_eq!(
        field(&text, "(single view ", '%'),
        format!("{:.2}", 100.0 * one.accuracy),
        "{text}"
    );
    assert!(
        !text.contains("without --augment"),
        "trained with crops: {text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join(train::METRICS_FILE)).unwrap()).unwrap();
    // (Within 1e-12: JSON's decimal text need not read back to the last bit.)
    for (key, want) in [
        ("ten_crop_test_accuracy", ten.accuracy),
        ("ten_crop_test_loss", ten.loss),
        ("test_accuracy", one.accuracy),
    ] {
        let got = json[key].as_f64().unwrap_or(f64::NAN);
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{key}: {json}"
        );
    }

    // Resumed with other colour and initialisation flags: the saved ones are used, and said.
    let (_, err) = run_ok(
        &train_args(&["--epochs", "2", "--resume"]),
        &[("--out", &run)],
    );
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("saved settings"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].contains("--pca-lighting on (given: off)")
            && notes[0].contains("--init paper (given: default)")
            && notes[0].contains("--augment on (given: off)"),
        "{err}"
    );
    let state = checkpoint::read_state(&run).unwrap();
    assert_eq!(state.epochs_done, 2);
    assert!(state.config.pca_lighting && state.config.augment && state.config.init == Init::Paper);
    // The same flags as saved: no note.
    let (_, err) = run_ok(
        &train_args(&[
            "--epochs",
            "3",
            "--augment",
            "--pca-lighting",
            "--init",
            "paper",
            "--resume",
        ]),
        &[("--out", &run)],
    );
    assert!(!err.contains("saved settings"), "{err}");

    // A run trained without crops: the ten-view score comes with a note on the black bands.
    let plain = run.join("plain");
    run_ok(&train_args(&["--epochs", "1"]), &[("--out", &plain)]);
    let (text, _) = run_ok(&evaluate, &[("--checkpoint", &plain)]);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("ten-crop test accuracy"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        lines[at + 1].contains("without --augment") && lines[at + 1].contains("black bands"),
        "{text}"
    );

    // An initialisation it does not know: one line.
    let err = one_line_error(
        Command::new(BIN)
            .args([
                "train",
                "--dataset",
                "synthetic",
                "--init",
                "xavier",
                "--out",
            ])
            .arg(run.join("other")),
    );
    assert!(
        err.contains("'xavier' is not one of default, paper"),
        "{err}"
    );
    assert!(!run.join("other").exists(), "nothing was trained");
    let _ = std::fs::remove_dir_all(run);
}
