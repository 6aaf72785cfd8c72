//! The command line, with Packer's single-dash flag spellings (`-var k=v`, `-only=…`) accepted
//! next to the usual `--var`. clap speaks only double-dash long flags, so [`normalize_args`]
//! rewrites the Packer forms first.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ambake",
    version,
    about = "Bake Amazon machine images from Packer amazon-ebs templates, without Packer.",
    long_about = "Bake Amazon machine images from Packer amazon-ebs templates, without Packer.\n\n\
Packer's single-dash flags work as in Packer: -var k=v, -var-file=F, -only=…, -except=…, -force, -on-error=…, -machine-readable.\n\n\
Exit codes: 0 success, 1 build or validation failed, 2 usage error, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the AMIs of a template
    Build(BuildArgs),
    /// Check that a template is valid, reporting every error with file:line:col
    Validate(ValidateArgs),
    /// Show a template's variables, locals, sources and builds
    Inspect(InspectArgs),
    /// Rewrite templates in the canonical format
    Fmt(FmtArgs),
    /// Show which AWS credentials, account and region would be used, and check the clock
    Whoami(WhoamiArgs),
    /// Continue a build kept by -on-error=abort: its provisioners from the one that failed,
    /// then the image (an ambake extension)
    Resume(ResumeArgs),
    /// Remove resources left behind by interrupted or crashed builds
    Cleanup(CleanupArgs),
    /// Print the minimal IAM policy a template's builds need
    IamPolicy(PolicyArgs),
    /// Print the version
    Version,
    /// Print a shell completion script
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Print the man page
    #[command(hide = true)]
    Man,
    /// Copy one file over SSH with ambake's communicator (benchmarks, debugging)
    #[command(hide = true)]
    Transfer(TransferArgs),
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 22)]
    pub port: u16,
    #[arg(long)]
    pub user: String,
    /// Private key file
    #[arg(long)]
    pub key: String,
    /// Use SFTP instead of scp
    #[arg(long)]
    pub sftp: bool,
    /// Ciphers to offer, in order (comma-separated), as a template's ssh_ciphers
    #[arg(long, value_delimiter = ',')]
    pub ciphers: Vec<String>,
    /// upload or download
    #[arg(value_parser = ["upload", "download"])]
    pub direction: String,
    pub src: String,
    pub dst: String,
}

/// Variable and selection flags shared by build, validate, inspect and whoami.
#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: -var name=value (repeatable; wins over every other source)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Only these builds (comma-separated globs on `amazon-ebs.<name>` or `<build>.amazon-ebs.<name>`)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// All builds except these (comma-separated globs)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub except: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only check the syntax
    #[arg(long)]
    pub syntax_only: bool,
    /// Evaluate data sources against AWS (calls DescribeImages); without it their values are unknown
    #[arg(long)]
    pub evaluate_datasources: bool,
    /// Print machine-readable output
    #[arg(long)]
    pub machine_readable: bool,
    /// Template file, directory, or - for stdin
    pub template: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Print machine-readable output (same as --json)
    #[arg(long)]
    pub machine_readable: bool,
    /// Template file, directory, or - for stdin
    pub template: String,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Do not write; exit 3 if any file is not formatted (as packer fmt -check)
    #[arg(long)]
    pub check: bool,
    /// Show the changes as a diff
    #[arg(long)]
    pub diff: bool,
    /// Write the result back to the files (default true; -write=false prints nothing but the list)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub write: bool,
    /// Also format files in subdirectories
    #[arg(long)]
    pub recursive: bool,
    /// File or directory (or - to format stdin to stdout)
    pub path: String,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum OnError {
    #[default]
    Cleanup,
    Abort,
    Ask,
    #[value(name = "run-cleanup-provisioner")]
    RunCleanupProvisioner,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Deregister an existing AMI of the same name (sets force_deregister)
    #[arg(long)]
    pub force: bool,
    /// What to do when a build fails
    #[arg(long, value_enum, default_value_t = OnError::Cleanup)]
    pub on_error: OnError,
    /// How many builds run at once (0: all)
    #[arg(long, default_value_t = 0)]
    pub parallel_builds: usize,
    #[arg(long)]
    pub machine_readable: bool,
    #[arg(long)]
    pub timestamp_ui: bool,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub color: bool,
    /// One JSON object per line on stdout: the events of docs/json-events.md (an ambake
    /// extension, beside Packer's -machine-readable)
    #[arg(long, conflicts_with = "machine_readable")]
    pub json: bool,
    /// Pause between steps and keep the temporary private key
    #[arg(long)]
    pub debug: bool,
    /// The template: a .pkr.hcl or .pkr.json file, or a directory of them
    pub template: String,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Start with this provisioner (1 is the first) instead of the one that failed
    #[arg(long)]
    pub from: Option<usize>,
    /// The build id the failed build printed (its journal)
    pub build_id: String,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// List each action with the reason it is needed instead of the JSON document
    #[arg(long)]
    pub explain: bool,
    /// With assume_role: print only the caller's policy or only the role's (default: both, as
    /// {"caller": …, "role": …})
    #[arg(long = "for", value_enum)]
    pub principal: Option<PolicyFor>,
    pub template: String,
}

/// Which principal's policy `iam-policy --for` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyFor {
    /// The credentials ambake starts with (they assume the role)
    Caller,
    /// The role the builds assume (it runs the build)
    Role,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Use this shared-config profile (wins over AWS_PROFILE and the template)
    #[arg(long)]
    pub profile: Option<String>,
    /// Use this region (wins over AWS_REGION and the template)
    #[arg(long)]
    pub region: Option<String>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// A template: show the identity each amazon-ebs source would use
    pub template: Option<String>,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The build id printed by `ambake build` (its journal is replayed)
    pub build_id: Option<String>,
    /// Replay every journal left in the state directory
    #[arg(long)]
    pub all: bool,
    /// Find leftovers by their ambake:build-id tag, even without a journal
    #[arg(long)]
    pub orphans: bool,
    /// Regions to search with --orphans (repeatable; default: the current region)
    #[arg(long)]
    pub region: Vec<String>,
    /// With --orphans: only builds whose newest resource is older than this (default 6h; 0 for
    /// any age — a build that is still running elsewhere is then at risk)
    #[arg(long)]
    pub older_than: Option<String>,
    /// List what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --orphans: delete without asking (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete the AMIs the build finished (tagged ambake:committed), after listing them
    #[arg(long)]
    pub include_artifacts: bool,
}

/// Packer's single-dash long flags, rewritten to clap's double-dash form.
const PACKER_FLAGS: &[&str] = &[
    "var",
    "var-file",
    "only",
    "except",
    "force",
    "on-error",
    "machine-readable",
    "syntax-only",
    "evaluate-datasources",
    "parallel-builds",
    "timestamp-ui",
    "color",
    "debug",
    "check",
    "diff",
    "write",
    "recursive",
    "json",
    "profile",
    "region",
    "all",
    "orphans",
    "older-than",
    "dry-run",
    "explain",
];

/// Rewrites `-var` to `--var`, `-only=x` to `--only=x`, … up to a `--`. A lone `-` (stdin) and
/// short flags (`-h`, `-V`) are left alone.
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if rest || a == "--" {
            rest = true;
            out.push(a);
            continue;
        }
        if let Some(body) = a.strip_prefix('-').filter(|b| !b.starts_with('-')) {
            let name = body.split('=').next().unwrap_or("");
            if PACKER_FLAGS.contains(&name) {
                out.push(format!("--{body}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(normalize_args(args.iter().map(|s| s.to_string()))).unwrap()
    }

    #[test]
    fn packer_single_dash_flags() {
        let cli = parse(&[
            "ambake",
            "validate",
            "-var",
            "a=1",
            "-var-file=x.pkrvars.hcl",
            "-only=amazon-ebs.a,amazon-ebs.b",
            "t.pkr.hcl",
        ]);
        let Command::Validate(v) = cli.command else {
            panic!()
        };
        assert_eq!(v.vars.vars, vec!["a=1"]);
        assert_eq!(v.vars.var_files, vec!["x.pkrvars.hcl"]);
        assert_eq!(v.select.only, vec!["amazon-ebs.a", "amazon-ebs.b"]);
        let cli = parse(&[
            "ambake",
            "build",
            "-force",
            "-on-error=abort",
            "--var",
            "b=2",
            "-",
        ]);
        let Command::Build(b) = cli.command else {
            panic!()
        };
        assert!(b.force);
        assert_eq!(b.on_error, OnError::Abort);
        assert_eq!(b.template, "-");
        let cli = parse(&["ambake", "fmt", "-check", "-write=false", "dir"]);
        let Command::Fmt(f) = cli.command else {
            panic!()
        };
        assert!(f.check && !f.write);
    }
}
