//! Running the real `ambake` binary, with an environment that never reaches for AWS.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A command for the binary under test: cwd = the repository, IMDS off, no AWS variables.
pub fn ambake(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ambake"));
    c.args(args).current_dir(repo());
    c.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, _) in std::env::vars() {
        if k.starts_with("PKR_VAR_")
            || k.starts_with("AWS_ACCESS")
            || k.starts_with("AWS_SECRET")
            || k == "AWS_PROFILE"
        {
            c.env_remove(k);
        }
    }
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: Command) -> Run {
    let out: Output = c.output().expect("run ambake");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run_stdin(mut c: Command, input: &str) -> Run {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn ambake");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `cmd` on a pseudo-terminal, as a person would, typing `answer` and Enter once `prompt`
/// shows (tests/support/answer_prompt.py); its environment and directory are kept.
pub fn answer_on_terminal(cmd: &Command, prompt: &str, answer: &str) -> Output {
    let mut tty = Command::new(super::emu::python());
    if let Some(d) = cmd.get_current_dir() {
        tty.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => tty.env(k, v),
            None => tty.env_remove(k),
        };
    }
    tty.arg(repo().join("tests/support/answer_prompt.py"))
        .args([prompt, answer, "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    tty.output().expect("tests/support/answer_prompt.py")
}
