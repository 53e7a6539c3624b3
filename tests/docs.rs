//! The documentation stays true: every finding code and every command is documented.

use crate::util::*;

#[test]
fn findings_page_lists_every_code_with_its_severity_and_title() {
    let page = std::fs::read_to_string(project_root().join("docs/FINDINGS.md")).unwrap();
    for code in cablekeep::Code::ALL {
        let severity = match code.severity() {
            cablekeep::Severity::Error => "error",
            cablekeep::Severity::Warning => "warning",
        };
        let row = format!("| `{}` | {severity} | {} |", code.as_str(), code.title());
        assert!(
            page.contains(&row),
            "docs/FINDINGS.md lacks the row starting {row:?}"
        );
    }
}

/// Long options `cablekeep help COMMAND` lists that the README need not name: clap's own, the
/// same for every command and described by `cablekeep help` itself.
const UNDOCUMENTED_OPTIONS: &[&str] = &[
    // every command and subcommand has it; the README says `cablekeep help COMMAND` instead
    "--help",
    // the top level's only; prints the version, nothing to explain
    "--version",
];

fn readme() -> String {
    std::fs::read_to_string(project_root().join("README.md")).unwrap()
}

/// The README's `## Commands` section, up to the next `## ` heading.
fn commands_section(readme: &str) -> &str {
    let start = readme
        .find("\n## Commands\n")
        .expect("README has a Commands section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The commands a `### ` heading of the Commands section documents: the names before its `:`
/// (`### add, status, commit: the staged workflow` documents three).
fn documented_commands(section: &str) -> Vec<String> {
    section
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .flat_map(|heading| {
            let names = heading.split(':').next().unwrap_or_default();
            names
                .split(',')
                .map(|n| n.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `cablekeep help ARGS...` (the top level's help without arguments).
fn help(args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cablekeep"));
    cmd.arg("help").args(args).env_remove("NO_COLOR");
    run_ok(&mut cmd, 0)
}

/// The long options a help text lists under `Options:`.
fn listed_long_options(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Options:"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter_map(|l| {
            let l = l.trim_start();
            let l = match l.strip_prefix('-') {
                Some(rest) if !rest.starts_with('-') => rest.get(3..)?,
                _ => l,
            };
            let name: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(format!("--{name}"))
        })
        .collect()
}

/// Whether `text` names `option` as a whole word (`--max-zip-bytes` does not name `--max-zip`).
fn names_option(text: &str, option: &str) -> bool {
    text.match_indices(option).any(|(at, _)| {
        !text[at + option.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn readme_shows_every_command_with_an_example() {
    let readme = readme();
    let help = run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_cablekeep")).arg("--help"),
        0,
    );
    let commands = crate::cli::listed_commands(&help);
    assert!(commands.len() >= 10, "{help}");
    for command in &commands {
        let heading = readme.lines().filter(|l| l.starts_with("### ")).any(|l| {
            l[4..]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|word| word == command)
        });
        assert!(heading, "README has no section for `{command}`");
        assert!(
            readme.contains(&format!("cablekeep {command}"))
                || readme.contains(&format!("-- {command}")),
            "README has no example of `{command}`"
        );
    }
    for code in ["| 0 |", "| 1 |", "| 2 |"] {
        assert!(readme.contains(code), "README documents exit code {code}");
    }
}

#[test]
fn readme_documents_no_command_that_does_not_exist() {
    let readme = readme();
    let commands = crate::cli::listed_commands(&help(&[]));
    let documented = documented_commands(commands_section(&readme));
    assert!(documented.len() >= 10, "{documented:?}");
    for name in documented {
        assert!(
            commands.contains(&name),
            "README documents `{name}` (a ### heading of Commands), which `--help` does not list"
        );
    }
}

#[test]
fn readme_names_every_option_of_every_command() {
    let readme = readme();
    let section = commands_section(&readme);
    // Every command, subcommands included (`links check`), as the path given to `help`.
    let mut pending: Vec<Vec<String>> = vec![vec![]];
    let mut checked = 0;
    let mut missing = Vec::new();
    while let Some(path) = pending.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        for sub in crate::cli::listed_commands(&text) {
            let mut longer = path.clone();
            longer.push(sub);
            pending.push(longer);
        }
        for option in listed_long_options(&text) {
            checked += 1;
            if !UNDOCUMENTED_OPTIONS.contains(&option.as_str()) && !names_option(section, &option) {
                missing.push(format!("cablekeep {} {option}", path.join(" ")));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} options found: is the help parsed?"
    );
    assert!(
        missing.is_empty(),
        "the README's Commands section does not name these options:\n{}",
        missing.join("\n")
    );
}

#[test]
fn option_names_are_read_from_help_and_matched_as_whole_words() {
    let text =
        "Options:\n  -c, --collection <C>\n          The collection\n      --json\n  -h, --help\n";
    assert_eq!(
        listed_long_options(text),
        ["--collection", "--json", "--help"]
    );
    assert!(names_option("`--max-zip-bytes` bounds", "--max-zip-bytes"));
    assert!(!names_option("`--max-zip-bytes` bounds", "--max-zip"));
    assert!(names_option("ends with --json", "--json"));
    let section = "\n## Commands\n\n### add, status, commit: staged\n### demo\n";
    assert_eq!(
        documented_commands(commands_section(section)),
        ["add", "status", "commit", "demo"]
    );
}

#[test]
fn format_spec_names_the_format_written() {
    let spec = std::fs::read_to_string(project_root().join("docs/FORMAT.md")).unwrap();
    assert!(spec.starts_with("# cablekeep archive formats 1 and 2"));
    use cablekeep::bag::ArchiveFormat;
    for needle in [
        ArchiveFormat::V1.bag_info_value(),
        ArchiveFormat::V2.bag_info_value(),
        cablekeep::store::sidecar::SIDECAR_FORMAT,
        cablekeep::cable::RECORD_SCHEMA,
        cablekeep::bag::record::RECORD_SCHEMA_2,
        cablekeep::store::STAGE_FORMAT,
    ] {
        assert!(spec.contains(needle), "docs/FORMAT.md names {needle}");
    }
}
