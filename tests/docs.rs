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

#[test]
fn readme_shows_every_command_with_an_example() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    let help = run_ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_cablekeep")).arg("--help"),
        0,
    );
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help" && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
        .collect();
    assert!(commands.len() >= 10, "{help}");
    for command in commands {
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
fn format_spec_names_the_format_written() {
    let spec = std::fs::read_to_string(project_root().join("docs/FORMAT.md")).unwrap();
    assert!(spec.starts_with(&format!("# {}", cablekeep::archive::FORMAT_NAME)));
    for needle in [
        cablekeep::manifest::SIDECAR_FORMAT,
        cablekeep::cable::RECORD_SCHEMA,
        cablekeep::store::STAGE_FORMAT,
    ] {
        assert!(spec.contains(needle), "docs/FORMAT.md names {needle}");
    }
}
