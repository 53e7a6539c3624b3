//! What users expect of a command line tool: completions and man pages generated from the
//! command definitions, and `NO_COLOR` honoured.

use crate::util::*;
use std::process::Command;

/// The binary with no store, no colour settings inherited from the test's environment.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cablekeep"));
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"] {
        cmd.env_remove(var);
    }
    cmd
}

/// The commands a help text lists under `Commands:`, without `help`.
pub fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help" && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
        .map(str::to_string)
        .collect()
}

/// The top-level commands, as `--help` lists them.
fn top_level_commands() -> Vec<String> {
    let commands = listed_commands(&run_ok(bare().arg("--help"), 0));
    assert!(commands.len() >= 10, "{commands:?}");
    commands
}

#[test]
fn bash_completion_names_every_command() {
    let script = run_ok(bare().args(["completions", "bash"]), 0);
    assert!(script.contains("complete -F _cablekeep"), "{script}");
    // The words offered after `cablekeep`, and the case that completes each command's options.
    let top_words: Vec<&str> = script
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("opts=\"-h -V "))
        .expect("the top-level word list")
        .trim_end_matches('"')
        .split(' ')
        .collect();
    for command in top_level_commands() {
        assert!(
            top_words.contains(&command.as_str()),
            "the bash completion does not offer `{command}`: {top_words:?}"
        );
        assert!(
            script.contains(&format!("cablekeep,{command})")),
            "the bash completion does not complete `{command}`'s options"
        );
    }
    for sub in ["check", "report", "history"] {
        assert!(script.contains(&format!("links,{sub})")), "links {sub}");
    }
    assert!(
        script.contains("--max-zip-bytes"),
        "options are completed too"
    );
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_a_usage_error() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run_ok(bare().args(["completions", shell]), 0);
        assert!(script.contains("cablekeep"), "{shell}: {script}");
        assert!(script.contains("rebuild-manifest"), "{shell}");
    }
    let out = run(bare().args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn man_prints_a_roff_page_naming_every_command() {
    let page = run_ok(bare().arg("man"), 0);
    // clap_mangen defines the roff string `Aq` (an apostrophe) in two lines before the title.
    let first_macro = page
        .lines()
        .find(|l| l.starts_with('.') && !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or_default();
    assert!(first_macro.starts_with(".TH cablekeep 1"), "{page}");
    assert!(page.find(".TH").unwrap() < page.find(".SH NAME").unwrap());
    for section in [
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH VERSION",
    ] {
        assert!(page.contains(section), "{section}");
    }
    for command in top_level_commands() {
        let reference = format!("cablekeep\\-{}(1)", command.replace('-', "\\-"));
        assert!(page.contains(&reference), "the man page lacks {reference}");
    }
    assert!(
        page.contains("CABLEKEEP_STORE"),
        "environment variables are named"
    );
    render_or_skip(&page, &top_level_commands());
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let listed = run_ok(bare().arg("man").arg("--out").arg(&out), 0);
    let mut expected = vec!["cablekeep.1".to_string()];
    for command in top_level_commands() {
        expected.push(format!("cablekeep-{command}.1"));
    }
    for sub in ["check", "report", "history"] {
        expected.push(format!("cablekeep-links-{sub}.1"));
    }
    let mut found: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "no help page, no leftover temporary file");
    assert_eq!(listed.lines().count(), expected.len(), "{listed}");
    let bundle = std::fs::read_to_string(out.join("cablekeep-bundle.1")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    // `\&` (empty text) as the date, so that the source and manual keep their places.
    let title = format!("\n.TH cablekeep-bundle 1 \\& \"cablekeep {version}\" \"User Commands\"");
    assert!(bundle.contains(&title), "{bundle}");
    assert!(bundle.contains("\\-\\-max\\-zip\\-bytes"), "{bundle}");
    // Written again over the old pages.
    run_ok(bare().arg("man").arg("--out").arg(&out), 0);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), expected.len());
}

#[test]
fn man_out_onto_a_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "kept").unwrap();
    let out = run(bare().arg("man").arg("--out").arg(&file));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("writing the man pages into {}", file.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Formats the page with groff (warnings on) and man, when they are installed.
fn render_or_skip(page: &str, commands: &[String]) {
    let has = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("groff") || !has("man") {
        eprintln!("\n!!! SKIPPED rendering the man page: groff or man is not installed !!!\n");
        record_skip(std::path::Path::new("groff or man"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cablekeep.1");
    std::fs::write(&file, page).unwrap();
    let warnings = run(Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file));
    assert!(warnings.status.success());
    assert_eq!(String::from_utf8_lossy(&warnings.stderr), "", "groff warns");
    let rendered = run(Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100"));
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.status.success(), "{:?}", rendered);
    assert!(
        text.contains("SYNOPSIS") && text.contains("SUBCOMMANDS"),
        "{text}"
    );
    let footer = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        footer
            .trim_start()
            .starts_with(&format!("cablekeep {version} ")),
        "the source leads the footer: {footer:?}"
    );
    for command in commands {
        assert!(
            text.contains(&format!("cablekeep-{command}(1)")),
            "{command}: {text}"
        );
    }
}

/// Help and a usage error, run with `env` set; returns stdout and stderr together.
fn help_and_usage_error(env: &[(&str, &str)]) -> Vec<(String, String)> {
    let runs: [&[&str]; 4] = [
        &["--help"],
        &["help", "bundle"],
        &["bundle", "--no-such-option"],
        &["links", "check", "--concurrency", "0"],
    ];
    runs.iter()
        .map(|args| {
            let mut cmd = bare();
            cmd.args(*args).envs(env.iter().copied());
            let out = run(&mut cmd);
            let name = format!("{args:?} with {env:?}");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                text.contains("Usage:") || text.contains("error:"),
                "{name}: {text}"
            );
            (name, text)
        })
        .collect()
}

#[test]
fn no_color_turns_off_every_escape_even_when_colour_is_forced() {
    // The control: forced colour does colour help and errors, so the check below can see it.
    for (name, text) in help_and_usage_error(&[("CLICOLOR_FORCE", "1")]) {
        assert!(text.contains("\x1b["), "{name}: expected colour");
    }
    for env in [
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")][..],
        &[
            ("NO_COLOR", "1"),
            ("CLICOLOR_FORCE", "1"),
            ("TERM", "xterm-256color"),
        ][..],
        &[("NO_COLOR", "yes")][..],
    ] {
        for (name, text) in help_and_usage_error(env) {
            assert!(!text.contains('\x1b'), "{name}: {text:?}");
        }
    }
    // An empty NO_COLOR does not count (no-color.org).
    for (name, text) in help_and_usage_error(&[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]) {
        assert!(text.contains("\x1b["), "{name}: expected colour");
    }
}

#[test]
fn without_a_terminal_there_is_no_colour() {
    for (name, text) in help_and_usage_error(&[("TERM", "xterm-256color")]) {
        assert!(!text.contains('\x1b'), "{name}: {text:?}");
    }
}

#[test]
fn no_color_leaves_data_output_plain() {
    let store = temp_store();
    let mut cmd = cablekeep(store.path());
    cmd.env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .arg("demo");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b));
    let mut cmd = cablekeep(store.path());
    cmd.env("NO_COLOR", "1").args(["verify", "-c", "nonesuch"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.contains(&0x1b));
}
