//! The README against the files it speaks of: the figures' provenance line as the gallery
//! wrote it, a training run's lines as the tool printed them, and the course map against the
//! notebooks on disk.

use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Runs of white space (line breaks, a quote's `> `) as one space.
fn words(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != ">")
        .collect::<Vec<_>>()
        .join(" ")
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
