//! The conda environment lists exactly what the README says it does.

#[test]
fn environment_yml_lists_what_the_readme_says() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let yml = std::fs::read_to_string(root.join("environment.yml")).unwrap();
    let listed: Vec<&str> = yml
        .lines()
        .skip_while(|l| !l.starts_with("dependencies:"))
        .skip(1)
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("[`environment.yml`](environment.yml)")
        .expect("the README names environment.yml");
    let sentence = &readme[start..start + readme[start..].find("; the kernel").unwrap()];
    let named: Vec<&str> = sentence.split('`').skip(3).step_by(2).collect();
    assert_eq!(
        listed, named,
        "environment.yml lists {listed:?}, the README says {named:?}"
    );
    assert!(yml.contains("conda-forge"));
}
