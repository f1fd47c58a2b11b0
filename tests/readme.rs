//! The README against the files it speaks of: the figures' provenance line as the gallery
//! wrote it, a training run's lines as the tool printed them, every report it quotes and every
//! accuracy and gap its prose restates, and the course map against the notebooks on disk.

use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A report the README quotes, checked to begin with the line its command writes first.
fn report_written_by(path: &str, first_line: &str) -> String {
    let report = read(path);
    assert!(
        report.starts_with(first_line),
        "{path} is not what its command writes: it does not begin with {first_line}"
    );
    report
}

/// Runs of white space (line breaks, a quote's `> `) as one space.
fn words(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != ">")
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lines, blank ones left out, of the first quoted (```) block of `readme` after
/// `link`; panics with `no_link` where `readme` lacks `link`.
fn quoted_after<'a>(readme: &'a str, link: &str, no_link: &str) -> Vec<&'a str> {
    let after = readme.split_once(link).expect(no_link).1;
    let block = after
        .split("```")
        .nth(1)
        .expect("a quoted block after the link");
    block.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn the_readme_quotes_what_make_figures_wrote() {
    let readme = words(&read("README.md"));
    let gallery = words(&read("assets/figures/gallery.txt"));
    assert!(
        gallery.starts_with("Figures written by `make figures` on ")
            && gallery.contains("test accuracy"),
        "assets/figures/gallery.txt is not what the gallery writes: {gallery}"
    );
    assert!(
        readme.contains(&gallery),
        "README.md does not quote assets/figures/gallery.txt as it is; after `make figures`, copy its line into the README:\n{gallery}"
    );
}

#[test]
fn the_readme_quotes_the_fashion_mnist_run_as_the_tool_printed_it() {
    let readme = read("README.md");
    let report = read("assets/reports/fashion-mnist-9k.txt");
    let printed: Vec<&str> = report
        .lines()
        .filter(|l| {
            l.starts_with("training ") || l.starts_with("epoch ") || l.starts_with("test accuracy")
        })
        .collect();
    assert_eq!(
        printed.len(),
        6,
        "the report holds the run's start, 4 epochs and its test line"
    );
    for line in printed {
        assert!(
            readme.contains(line),
            "README.md lacks this line of assets/reports/fashion-mnist-9k.txt:\n{line}"
        );
    }
    let command = report.lines().next().unwrap().trim_start_matches("# ");
    assert!(
        readme.contains(command),
        "README.md lacks the command: {command}"
    );

    // "shirts are the hardest class, mistaken for T-shirts N times in 1,000": the confusion
    // matrix's row with the smallest diagonal, and its largest other entry.
    let classes = alexnet_lab::data::DatasetKind::FashionMnist.classes();
    let matrix = report
        .split_once("confusion matrix")
        .expect("the report's confusion matrix")
        .1;
    let rows: Vec<Vec<u32>> = classes
        .iter()
        .map(|c| {
            let line = matrix
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{c} ")))
                .unwrap_or_else(|| panic!("no confusion row for {c}"));
            line.trim_start()[c.len()..]
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect()
        })
        .collect();
    let hardest = (0..10).min_by_key(|&i| rows[i][i]).unwrap();
    let (most, times) = (0..10)
        .filter(|&j| j != hardest)
        .map(|j| (j, rows[hardest][j]))
        .max_by_key(|&(_, n)| n)
        .unwrap();
    let total: u32 = rows[hardest].iter().sum();
    assert_eq!((classes[hardest], classes[most]), ("shirt", "T-shirt/top"));
    let said = format!(
        "shirts are the hardest class, mistaken for T-shirts {times} times in {}",
        thousands(total as f64)
    );
    assert!(
        words(&readme).contains(&words(&said)),
        "the README should say: {said}"
    );
}

#[test]
fn the_course_map_lists_every_lesson_and_no_other() {
    let readme = read("README.md");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks");
    let mut lessons: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ipynb"))
        .collect();
    lessons.sort();
    assert!(lessons.len() >= 10, "{lessons:?}");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| [") && l.contains("](notebooks/"))
        .collect();
    for name in &lessons {
        let link = format!("](notebooks/{name})");
        assert!(
            rows.iter().any(|r| r.contains(&link)),
            "the README's course map has no row for notebooks/{name}"
        );
    }
    assert_eq!(
        rows.len(),
        lessons.len(),
        "a course map row for a lesson that is not there"
    );
}

/// `1234.5` as the README writes it: rounded, thousands separated by commas.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `train: 5327.1 img/s infer: 17409.1 img/s` as the two numbers.
fn train_infer(text: &str) -> (f64, f64) {
    let n: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 2, "not a bench line: {text}");
    (n[0], n[1])
}

#[test]
fn the_readme_quotes_the_gpu_run_as_gpu_run_wrote_it() {
    let readme = read("README.md");
    let report = read("assets/reports/gpu-run.txt");
    let quoted = quoted_after(
        &readme,
        "(assets/reports/gpu-run.txt):",
        "the README's GPU status links assets/reports/gpu-run.txt before its quote",
    );
    assert!(quoted.len() >= 5, "{quoted:?}");
    for line in &quoted {
        assert!(
            report.lines().any(|r| r == *line),
            "the README quotes a line assets/reports/gpu-run.txt does not hold:\n{line}"
        );
    }
    let verdict = report.lines().last().unwrap();
    assert!(
        verdict.starts_with("gpu_run: ") && quoted.contains(&verdict),
        "{verdict}"
    );

    // The date and the GPU as the run printed them.
    let date = &report.lines().next().unwrap()["gpu_run: ".len()..][..10];
    let gpu = report
        .lines()
        .find_map(|l| l.strip_prefix("GPU: "))
        .expect("the report names the GPU");
    let fields: Vec<&str> = gpu.split(", ").collect();
    let status = readme.split_once("**GPU status").expect("a GPU status").1;
    let status = &status[..status.find("## Performance").unwrap()];
    for want in [date, fields[0], fields[2]] {
        assert!(
            status.contains(want),
            "the GPU status lacks '{want}' ({gpu}, {date})"
        );
    }

    // The machine and the verdict: compute capability, host cores and glibc, the bundle's
    // commit, the number of steps.
    let host = report
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("the report's host line");
    let cores = host.split(' ').next().unwrap();
    let glibc = host.rsplit(' ').next().unwrap();
    let commit = report
        .lines()
        .find_map(|l| l.split_once(" commit ").map(|(_, c)| c.trim()))
        .expect("the bundle's commit");
    let steps = verdict
        .strip_prefix("gpu_run: ")
        .and_then(|v| v.split(' ').next())
        .unwrap();
    for want in [
        format!("(compute capability {},", fields[1]),
        format!("a {cores}-core host with glibc {glibc})"),
        format!("passed all {steps} steps"),
        format!("That run was of commit {commit}."),
    ] {
        assert!(
            words(status).contains(&words(&want)),
            "the GPU status should say: {want}"
        );
    }

    // The table: each of the run's benchmark pairs as a row.
    let mut rows = 0;
    let mut pairs = Vec::new();
    for line in report.lines() {
        let Some(rest) = line.trim().strip_prefix("alexnet ") else {
            continue;
        };
        let (what, figures) = rest.split_once(": ").unwrap();
        let (model, batch) = what.split_once(" batch ").unwrap();
        let ours = train_infer(figures);
        let peer = report
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("pytorch {what}: ")))
            .unwrap_or_else(|| panic!("no PyTorch line for {what}"));
        let theirs = train_infer(peer);
        let row = format!(
            "| {model} | {batch} | {} | {} | {} | {} |",
            thousands(ours.0),
            thousands(theirs.0),
            thousands(ours.1),
            thousands(theirs.1)
        );
        assert!(
            status.contains(&row),
            "the GPU table lacks this row of the run:\n{row}"
        );
        rows += 1;
        pairs.push((what.to_string(), ours, theirs));
    }
    assert_eq!(
        rows, 4,
        "the run benches cifar at 64 and 256, article at 32 and 128"
    );
    // The prose's spans: PyTorch's speed over the crate's, and cifar's from batch 64 to 256.
    let span = |r: Vec<f64>| {
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        format!("{lo:.1} to {hi:.1}")
    };
    let faster = format!(
        "PyTorch trains {} times faster and infers {} times faster",
        span(pairs.iter().map(|(_, o, t)| t.0 / o.0).collect()),
        span(pairs.iter().map(|(_, o, t)| t.1 / o.1).collect())
    );
    let cifar = |batch: &str| {
        pairs
            .iter()
            .find(|(w, _, _)| w == &format!("cifar batch {batch}"))
            .map(|(_, o, _)| thousands(o.0))
            .unwrap_or_else(|| panic!("no cifar batch {batch} line"))
    };
    let grows = format!(
        "(cifar: {} to {} images/s from batch 64 to 256)",
        cifar("64"),
        cifar("256")
    );
    for want in [faster, grows] {
        assert!(
            words(status).contains(&words(&want)),
            "the GPU section should say: {want}"
        );
    }
}

#[test]
fn the_readme_quotes_the_test_run_as_test_sh_wrote_it() {
    let readme = read("README.md");
    let report = read("assets/reports/test-run.txt");
    let quoted = quoted_after(
        &readme,
        "(assets/reports/test-run.txt)):",
        "the README links assets/reports/test-run.txt before quoting it",
    );
    let written: Vec<&str> = report.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        quoted, written,
        "the README's quote differs from assets/reports/test-run.txt"
    );
    assert!(written[0].starts_with("tests: ") && written[0].ends_with(" passed, 0 failed"));
    // "from a fresh clone on N cores": the report's header ("..., 2 cores, Linux x86_64").
    let cores = report
        .lines()
        .next()
        .and_then(|h| h.split(" cores,").next())
        .and_then(|h| h.rsplit(' ').next())
        .unwrap_or_default();
    let fresh = format!("from a fresh clone on {cores} cores");
    assert!(
        words(&readme).contains(&fresh),
        "the README should say: {fresh}"
    );
}

#[test]
fn the_readme_latency_table_is_the_runners_report() {
    let readme = read("README.md");
    let report = read("assets/reports/cell-latency.md");
    let header = report.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("<!-- written by:") && !header.contains("--overlap"),
        "assets/reports/cell-latency.md must be `make latency`'s report (each kernel started alone), \
         not one made with --overlap (make test's, runs/cell-latency.md): {header}"
    );
    // Its date, as the README gives it ("Measured YYYY-MM-DD on ...").
    let date = header
        .split_once(" UTC")
        .map(|(h, _)| &h[h.len().saturating_sub(16)..][..10])
        .unwrap_or_default();
    assert!(
        readme.contains(&format!("Measured {date} on this project's")),
        "the README's latency section should give the report's date, {date}"
    );
    // ... its machine and its notebooks: "2 cores, ...; 12 lessons and 12 solutions -->".
    let cores = header
        .split(" cores,")
        .next()
        .and_then(|h| h.rsplit(' ').next())
        .unwrap_or_default();
    let count = |what: &str| -> usize {
        header
            .split(&format!(" {what}"))
            .next()
            .and_then(|h| h.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the report's header counts no {what}: {header}"))
    };
    let (lessons, solutions) = (count("lessons"), count("solutions"));
    for want in [
        format!(
            "{cores}-core machine, the whole course ({lessons} lessons and {solutions} solutions)"
        ),
        format!("| **the course, {} notebooks** |", lessons + solutions),
    ] {
        assert!(
            words(&readme).contains(&words(&want)),
            "the README should say: {want}"
        );
    }
    // The report's rows by notebook: kernel start, first cell, cells, median, p90, slowest (its
    // seconds), total. (The slowest cell's code may hold `|`, so the total is the last field,
    // not the eighth.)
    let figures = |row: &str| -> Vec<String> {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let mut f: Vec<String> = cells[1..7].iter().map(|c| c.to_string()).collect();
        f[5] = f[5].split_whitespace().next().unwrap_or("").to_string();
        f.push(cells[cells.len() - 1].to_string());
        f
    };
    let mut checked = 0;
    for row in readme
        .lines()
        .filter(|l| l.starts_with("| 0") || l.starts_with("| 1"))
    {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 8 || cells[0].contains('[') {
            continue; // the course map's rows
        }
        let name = format!("| {}.ipynb |", cells[0]);
        let source = report
            .lines()
            .find(|l| l.starts_with(&name))
            .unwrap_or_else(|| panic!("assets/reports/cell-latency.md has no row {name}"));
        let want = figures(source);
        let got: Vec<String> = cells[1..].iter().map(|c| c.to_string()).collect();
        assert_eq!(
            got, want,
            "the README's latency row for {} differs from the report",
            cells[0]
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} latency rows found in the README"
    );
    let course = report
        .lines()
        .find(|l| l.starts_with("| **course** |"))
        .expect("the report's course row");
    let f = figures(course);
    let (ks, fc) = (
        f[0].split_whitespace().next().unwrap_or_default(),
        f[1].split_whitespace().next().unwrap_or_default(),
    );
    let answers = format!(
        "A kernel answers {ks} s (the median) after it is asked for, and the first cell then takes {fc} s"
    );
    assert!(
        words(&readme).contains(&words(&answers)),
        "the README should say: {answers}"
    );
    for want in [&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]] {
        let line = readme
            .lines()
            .find(|l| l.starts_with("| **the course, "))
            .expect("the README's course row");
        assert!(
            line.contains(want.as_str()),
            "the README's course row lacks {want}: {line}"
        );
    }
}

#[test]
fn the_readme_quotes_the_ablation_table_as_the_script_wrote_it() {
    let readme = read("README.md");
    let report = report_written_by(
        "assets/reports/ablation.md",
        "<!-- written by scripts/ablation.sh full (",
    );
    // The script's rows, `"key|what changes|model|flags"` in its `rows=(...)` list, in order.
    let script = read("scripts/ablation.sh");
    let keys: Vec<&str> = script
        .split_once("rows=(")
        .expect("scripts/ablation.sh lists its rows")
        .1
        .split_once("\n)")
        .expect("the row list ends")
        .0
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('|').next())
        .collect();
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| ")).collect();
    let tabled: Vec<&str> = rows[2..]
        .iter()
        .map(|r| r.trim_start_matches("| ").split(" |").next().unwrap_or(""))
        .collect();
    assert!(keys.len() >= 7, "the script's rows: {keys:?}");
    assert_eq!(
        tabled, keys,
        "assets/reports/ablation.md's rows are not the script's: run scripts/ablation.sh full"
    );
    for row in rows {
        assert!(
            readme.contains(row),
            "README.md lacks this row of assets/reports/ablation.md:\n{row}"
        );
    }
    assert!(
        readme.contains("scripts/ablation.sh full"),
        "the README names the command"
    );
    // The budget as the run's own header line gives it: "(2700 train / 300 validation /
    // 10000 test images)", 4 epochs.
    let sizes = report
        .split_once(" train / ")
        .map(|(before, after)| {
            let train: f64 = before.rsplit('(').next().unwrap().parse().unwrap();
            let test: f64 = after
                .split(" / ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .unwrap()
                .parse()
                .unwrap();
            (train, test)
        })
        .expect("the ablation's data line");
    let epochs = report
        .split_once("--epochs ")
        .and_then(|(_, e)| e.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap();
    let budget = format!(
        "budget, {} Fashion-MNIST photos for {epochs} epochs, scored on the {} test photos",
        thousands(sizes.0),
        thousands(sizes.1)
    );
    assert!(
        words(&readme).contains(&words(&budget)),
        "the README should say: {budget}"
    );
}

#[test]
fn the_readme_quotes_the_speed_comparison_as_compare_wrote_it() {
    let readme = read("README.md");
    let report = report_written_by(
        "assets/reports/compare.md",
        "<!-- written by python3 bench/compare.py",
    );
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(
        rows.len(),
        8,
        "the report holds a header, a rule and 3 rows for each of cifar and article"
    );
    let measured = report
        .lines()
        .find(|l| l.starts_with("Measured "))
        .expect("the report's date and machine line");
    for line in rows.iter().copied().chain([measured]) {
        assert!(
            readme.contains(line),
            "README.md lacks this line of assets/reports/compare.md (run make compare, copy runs/compare.md there):\n{line}"
        );
    }
    // "ahead of both peers on all 6 figures": every ratio (the crate against the better peer)
    // above 1.
    let ratios: Vec<f64> = rows[2..]
        .iter()
        .map(|r| {
            let ratio = r.trim_matches('|').split('|').nth(5).unwrap().trim();
            ratio.trim_end_matches('x').parse().unwrap()
        })
        .collect();
    assert!(ratios.iter().all(|&r| r > 1.0), "{ratios:?}");
    let ahead = format!("ahead of both peers on all {} figures", ratios.len());
    assert!(readme.contains(&ahead), "the README should say: {ahead}");
}

#[test]
fn the_readme_quotes_the_layer_times_as_the_example_wrote_them() {
    let readme = read("README.md");
    let report = report_written_by(
        "assets/reports/layer-times.txt",
        "# written by `cargo run --release --example layer_times` on ",
    );
    let lines: Vec<&str> = report.lines().collect();
    for model in ["cifar layer, batch 64", "article layer, batch 32"] {
        assert!(
            lines.iter().any(|l| l.starts_with(model)),
            "assets/reports/layer-times.txt has no {model} table"
        );
    }
    let link = "[`assets/reports/layer-times.txt`](assets/reports/layer-times.txt)";
    let quoted = quoted_after(&readme, link, "the README does not link the layer times");
    // The block's first line is its language tag.
    let quoted: Vec<&str> = quoted.into_iter().skip_while(|l| *l == "text").collect();
    assert_eq!(
        quoted.first(),
        lines.first(),
        "the README's layer times do not start with the report's provenance line"
    );
    assert!(
        quoted
            .iter()
            .filter(|l| l.starts_with("whole model"))
            .count()
            == 2,
        "the README's layer times quote both models' whole-model lines"
    );
    for line in &quoted {
        assert!(
            lines.contains(line),
            "the README quotes a layer-times line the report does not have: {line}"
        );
    }
}

#[test]
fn the_readme_quotes_the_three_frameworks_trained_as_train_compare_wrote_it() {
    let readme = read("README.md");
    let report = report_written_by(
        "assets/reports/train-compare.md",
        "<!-- written by python3 bench/train_compare.py",
    );
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| ")).collect();
    let programs: Vec<&str> = rows
        .iter()
        .skip(2)
        .map(|r| r.trim_start_matches("| ").split(" |").next().unwrap_or(""))
        .collect();
    assert_eq!(
        programs,
        ["alexnet-lab", "Keras", "PyTorch"],
        "the report's rows: run python3 bench/train_compare.py"
    );
    for line in rows
        .iter()
        .copied()
        .chain(report.lines().filter(|l| l.starts_with("Measured ")))
    {
        assert!(
            readme.contains(line),
            "README.md lacks this line of assets/reports/train-compare.md:\n{line}"
        );
    }
    assert!(
        readme.contains("python3 bench/train_compare.py"),
        "the README names the command"
    );
    // "PyTorch ... lands within half a point" of the crate's test accuracy.
    let accuracy = |program: &str| -> f64 {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| {program} |")))
            .unwrap();
        let cell = row.trim_matches('|').split('|').nth(1).unwrap().trim();
        cell.trim_end_matches('%').parse().unwrap()
    };
    let gap = (accuracy("alexnet-lab") - accuracy("PyTorch")).abs();
    assert!(
        gap < 0.5 && words(&readme).contains("lands within half a point"),
        "the README says PyTorch lands within half a point; the report's gap is {gap:.2}"
    );
}

/// Every `unsafe` block and `unsafe fn` in src/, outside comments, each under a `SAFETY`
/// comment (in the comment lines right above it), and their number as the README states it.
#[test]
fn the_readme_counts_the_unsafe_code_and_each_has_a_safety_comment() {
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let (mut blocks, mut fns) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let (block, func) = (code.contains("unsafe {"), code.contains("unsafe fn"));
            if !block && !func {
                continue;
            }
            blocks += usize::from(block);
            fns += usize::from(func);
            // The comment block right above (attributes may sit between), or the line itself.
            let mut found = line.contains("SAFETY");
            let mut j = i;
            while !found && j > 0 {
                j -= 1;
                let above = lines[j].trim_start();
                if !(above.starts_with("//") || above.starts_with("#[")) {
                    break;
                }
                found = above.contains("SAFETY");
            }
            assert!(
                found,
                "{}:{}: `unsafe` without a SAFETY comment above it",
                file.display(),
                i + 1
            );
        }
    }
    let readme = words(&read("README.md"));
    let claim = format!("The crate holds {blocks} `unsafe` blocks and {fns} `unsafe fn`");
    assert!(readme.contains(&claim), "the README does not say: {claim}");
}

/// The numbers written just before `unit` in `text` that have a decimal point ("83.91" of
/// "83.91%"), each as written and as a value.
fn figures_before(text: &str, unit: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(unit) {
        let digits: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let digits = digits.trim_start_matches('.');
        if digits.contains('.') {
            if let Ok(value) = digits.parse::<f64>() {
                out.push((digits.to_string(), value));
            }
        }
    }
    out
}

/// The README's prose: what lies outside its quoted (```) blocks.
fn prose(readme: &str) -> String {
    readme
        .split("```")
        .step_by(2)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The prose figures that restate a report: every accuracy the README writes with a decimal
/// point (`86.91%`) is one the reports hold, and every gap between two (`1.57 points`,
/// `1.44 more`) is the difference of two accuracies the reports hold, to the digits written.
#[test]
fn the_readmes_accuracies_and_gaps_are_the_reports() {
    let readme = read("README.md");
    let mut reports = read("assets/figures/gallery.txt");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/reports");
    for entry in std::fs::read_dir(&dir).expect("assets/reports") {
        let path = entry.expect("a report").path();
        reports +=
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let held = figures_before(&reports, "%");
    let accuracies = figures_before(&readme, "%");
    assert!(
        accuracies.len() >= 30,
        "the README's accuracies: {accuracies:?}"
    );
    for (written, _) in &accuracies {
        assert!(
            held.iter().any(|(h, _)| h == written),
            "README.md says {written}%, which no file in assets/reports (or the gallery) holds"
        );
    }
    // Gaps are between accuracies written to as many digits as the gap.
    let prose = prose(&readme);
    let mut gaps = figures_before(&prose, " points");
    gaps.extend(figures_before(&prose, " more"));
    assert!(gaps.len() >= 4, "the README's gaps: {gaps:?}");
    for (written, gap) in gaps {
        let decimals = |w: &str| w.split('.').nth(1).map_or(0, str::len);
        let scale = 10f64.powi(decimals(&written) as i32);
        let alike: Vec<f64> = held
            .iter()
            .filter(|(w, _)| decimals(w) == decimals(&written))
            .map(|(_, v)| *v)
            .collect();
        let found = alike.iter().any(|a| {
            alike
                .iter()
                .any(|b| ((a - b) * scale).round() == (gap * scale).round())
        });
        assert!(
            found,
            "README.md speaks of a gap of {written} points that is no difference of two accuracies in the reports"
        );
    }
}

/// The README's other figures: the cost table as `summary` computes it from the types, the
/// training cells' times from the latency report, a whole run's speed against `bench`'s, and
/// the GPU run's time.
#[test]
fn the_readmes_cost_table_and_quoted_times_are_computed_or_reported() {
    use alexnet_lab::prelude::{summary, ModelName};
    let readme = read("README.md");
    let number = |s: &str| -> f64 {
        s.trim()
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {s:?}"))
    };
    for model in [ModelName::Paper, ModelName::Article, ModelName::Cifar] {
        let text = summary(model).to_string();
        // "multiply-adds per image: A (B in convolutions); parameters: P; activations: X at batch 1, Y at batch 64"
        let totals = text
            .lines()
            .find_map(|l| l.strip_prefix("multiply-adds per image: "))
            .expect("summary's totals line");
        let (macs, rest) = totals.split_once(" (").unwrap();
        let (conv, rest) = rest.split_once(" in convolutions); parameters: ").unwrap();
        let (params, rest) = rest.split_once("; activations: ").unwrap();
        let (one, rest) = rest.split_once(" at batch 1, ").unwrap();
        let many = rest.strip_suffix(" at batch 64").unwrap();
        let row = format!("| `{model}` | {macs} ({conv}) | {params} | {one} / {many} |");
        assert!(
            readme.contains(&row),
            "the README's cost table lacks the row summary() computes:\n{row}"
        );
    }

    // Fashion-MNIST's three equal planes: cifar's first convolution against one plane's.
    let conv1 = summary(ModelName::Cifar).rows[0].macs;
    let total = summary(ModelName::Cifar).total_macs();
    assert!(
        100 * (conv1 - conv1 / 3) < total,
        "the extra is under 1% of the model's"
    );
    let planes = format!(
        "{} multiply-adds an image where one plane would need {}",
        thousands(conv1 as f64),
        thousands((conv1 / 3) as f64)
    );
    let more = format!(
        "{} more, under 1% of the model's",
        thousands((conv1 - conv1 / 3) as f64)
    );
    for want in [planes, more] {
        assert!(
            words(&readme).contains(&words(&want)),
            "the README should say: {want}"
        );
    }

    // "09's `fit` takes X s and its resumed epoch Y s": two training cells of the report.
    let latency = read("assets/reports/cell-latency.md");
    let (_, after) = readme
        .split_once("09's `fit` takes ")
        .expect("the README quotes 09's training cells");
    let fit = after.split(" s").next().unwrap();
    let resumed = after
        .split_once("resumed epoch ")
        .and_then(|(_, r)| r.split(" s").next())
        .unwrap();
    for (what, secs, code) in [
        ("fit", fit, "../runs/notebook-09\")"),
        ("resumed epoch", resumed, "Cpu::seed_from_u64(99)"),
    ] {
        assert!(
            latency.lines().any(|l| l.starts_with("- 09-training.ipynb cell ")
                && l.contains(&format!(": {secs} s `"))
                && l.contains(code)),
            "the README's 09 {what} time {secs} s is not a training cell of assets/reports/cell-latency.md"
        );
    }

    // A whole training run against bench: the median epoch (train-compare.md), bench's cifar
    // training step (compare.md), and the one as a share of the other.
    let field = |row: &str, i: usize| {
        row.trim_matches('|')
            .split('|')
            .nth(i)
            .unwrap()
            .trim()
            .to_string()
    };
    let ours = read("assets/reports/train-compare.md")
        .lines()
        .find(|l| l.starts_with("| alexnet-lab |"))
        .map(|l| field(l, 4))
        .expect("train-compare.md's alexnet-lab row");
    let bench = read("assets/reports/compare.md")
        .lines()
        .find(|l| l.starts_with("| `cifar`, 64 | train |"))
        .map(|l| field(l, 2).trim_end_matches(" img/s").to_string())
        .expect("compare.md's cifar training row");
    // The table's speed is the upper median of alexnet-lab's epoch lines ("..., 137 img/s").
    let report = read("assets/reports/train-compare.md");
    let mut epochs: Vec<f64> = report
        .split("Commands, then each program's epoch lines:")
        .nth(1)
        .expect("train-compare.md's epoch lines")
        .split("\n    .venv-peers")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("epoch "))
        .map(|l| number(l.rsplit(", ").next().unwrap().trim_end_matches(" img/s")))
        .collect();
    epochs.sort_by(f64::total_cmp);
    assert!(
        !epochs.is_empty(),
        "no alexnet-lab epoch lines in train-compare.md"
    );
    assert_eq!(
        epochs[epochs.len() / 2],
        number(&ours),
        "the table's speed is the upper median"
    );
    let listed: Vec<String> = epochs.iter().map(|e| e.to_string()).collect();
    let (last, rest) = listed.split_last().unwrap();
    let ran_at = format!("which ran at {} and {last})", rest.join(", "));
    assert!(
        words(&readme).contains(&words(&ran_at)),
        "the README should say: {ran_at}"
    );
    let share = (100.0 * number(&ours) / number(&bench)).round();
    for phrase in [
        format!("ran its epochs at {ours} training images/s"),
        format!("where `bench` gave {bench}:"),
        format!("an epoch runs at about {share}% of the step's own speed"),
    ] {
        assert!(
            words(&readme).contains(&words(&phrase)),
            "the README should say: {phrase}"
        );
    }

    // How long the GPU run took, as gpu_run.sh printed it.
    let took = read("assets/reports/gpu-run.txt")
        .lines()
        .find_map(|l| l.strip_prefix("took ").map(str::to_string))
        .expect("gpu-run.txt's took line");
    assert!(
        words(&readme).contains(&words(&format!("(the whole run took {took} on the H200)"))),
        "the README's GPU run time differs from assets/reports/gpu-run.txt ({took})"
    );
}

/// The models' parameter counts as `summary` computes them from the types (the models table,
/// the course map), and the PyTorch version that made the fixtures.
#[test]
fn the_readmes_parameter_counts_and_torch_version_are_the_codes() {
    use alexnet_lab::prelude::{summary, ModelName};
    let readme = read("README.md");
    for model in [ModelName::Paper, ModelName::Article, ModelName::Cifar] {
        let count = thousands(summary(model).total_params() as f64);
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{model}` | 3x")))
            .unwrap_or_else(|| panic!("the models table has no row for {model}"));
        assert!(
            row.ends_with(&format!("| {count} |")),
            "the models table's {model} row should end with {count}: {row}"
        );
    }
    let paper = thousands(summary(ModelName::Paper).total_params() as f64);
    assert!(
        readme.contains(&format!("the paper's {paper} parameters")),
        "the course map should give the paper's {paper} parameters"
    );
    let made_by = read("tests/fixtures/torch.json");
    let version = made_by
        .split_once("torch ")
        .and_then(|(_, v)| v.split('.').take(2).collect::<Vec<_>>().join(".").into())
        .unwrap_or_default();
    let with = format!("with torch {version}:");
    assert!(
        words(&readme).contains(&words(&with)),
        "the README should say the fixtures were made {with}"
    );
}

/// The README's error bounds are the tests' own constants: the Winograd kernels on the
/// models' layers, and the layers against PyTorch's values.
#[test]
fn the_readmes_error_bounds_are_the_tests_constants() {
    let readme = words(&read("README.md"));
    let constant = |file: &str, name: &str| -> String {
        let source = read(file);
        let line = source
            .lines()
            .find(|l| l.starts_with(&format!("const {name}: f64 = ")))
            .unwrap_or_else(|| panic!("{file} has no const {name}"));
        line.rsplit("= ")
            .next()
            .unwrap()
            .trim_end_matches(';')
            .to_string()
    };
    let wino = "tests/winograd_inference.rs";
    let (f43, f23) = (
        constant(wino, "F43_ON_MODEL_LAYERS"),
        constant(wino, "F23_ON_MODEL_LAYERS"),
    );
    let winograd = words(&format!(
        "within {f43} of the f64 loops on the models' layers, against {f23}"
    ));
    assert_eq!(
        readme.matches(&winograd).count(),
        2,
        "the README should say twice: {winograd}"
    );
    let torch = "tests/torch_fixtures.rs";
    let (fwd, grad) = (constant(torch, "FORWARD_TOL"), constant(torch, "GRAD_TOL"));
    let bounds = words(&format!("within {fwd} forward and {grad} backward"));
    assert!(readme.contains(&bounds), "the README should say: {bounds}");
}

/// The GPU check's figures as its log gives them: how many of the model's parameter gradients
/// it compared, and the largest forward and gradient differences.
#[test]
fn the_readme_quotes_the_gpu_check_as_its_log_gives_it() {
    let readme = words(&read("README.md"));
    let log = read("assets/reports/gpu-check.txt");
    let diffs: Vec<(&str, f64)> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ok   "))
        .filter_map(|l| l.split_once(": relative difference "))
        .map(|(name, d)| (name, d.trim().parse().unwrap()))
        .collect();
    let sorted = |gradient: bool| {
        let mut v: Vec<f64> = diffs
            .iter()
            .filter(|(name, _)| name.ends_with("gradient") == gradient)
            .map(|d| d.1)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (forward, gradients) = (sorted(false), sorted(true));
    let params = diffs
        .iter()
        .filter(|(name, _)| name.starts_with("cifar parameter "))
        .count();
    let (worst, second) = (
        gradients[gradients.len() - 1],
        gradients[gradients.len() - 2],
    );
    assert!(
        second < 5e-5,
        "every other gradient within 5e-5: {second:e}"
    );
    for want in [
        format!("all {params} of its parameters' gradients"),
        format!(
            "Forward values agree within {:.1e} of their largest, gradients within {:.1e}",
            forward[forward.len() - 1],
            worst
        ),
        "every other within 5e-5".to_string(),
    ] {
        assert!(
            readme.contains(&words(&want)),
            "the README should say: {want}"
        );
    }
}
