//! ambake: bake Amazon machine images from Packer `amazon-ebs` templates, without Packer.
//!
//! The crate is layered so that each layer can be tested on its own (ARCHITECTURE.md has the
//! arrows; `scripts/layers` prints them):
//! - [`template`] turns Packer HCL2 text into evaluated values (variables, locals, functions,
//!   the legacy `{{ … }}` engine) and knows nothing about AWS;
//! - [`config`] types and validates those values into one [`config::BuildPlan`] per build, with
//!   its decisions made once ([`config::decided`]);
//! - [`aws`] knows AWS only: credentials, region, SDK clients, images, the one waiter, the one
//!   retry and the error explanations; [`comm`] is the SSH communicator;
//! - [`job`] is what a build works with (context, typed state, journal, tags);
//! - [`steps`] are the amazon-ebs steps and [`provision`] the provisioners;
//! - [`engine`] runs a plan's steps with the journal, the unwind and the Ctrl-C ladder;
//! - [`policy`] collects the IAM actions the steps declare;
//! - [`commands`] are the subcommands the binary runs.
//!
//! ```no_run
//! use ambake::{diag::Diagnostics, template};
//! let mut diags = Diagnostics::default();
//! let opts = template::LoadOptions { path: "templates/al2023.pkr.hcl".into(), ..Default::default() };
//! let cfg = template::load(&opts, &template::UnknownData, &mut diags).unwrap();
//! let plans = ambake::config::plan(&cfg, &Default::default(), &mut diags);
//! println!("{} builds, {} problems", plans.len(), diags.items.len());
//! ```

pub mod ami_name;
pub mod aws;
pub mod cancel;
pub mod cli;
pub mod comm;
pub mod commands;
pub mod config;
pub mod datasources;
pub mod diag;
pub mod duration;
pub mod engine;
pub mod exit;
pub mod fmt;
pub mod funcs;
pub mod http_get;
pub mod job;
pub mod output;
pub mod paths;
pub mod policy;
pub mod postproc;
pub mod provision;
pub mod steps;
pub mod summary;
pub mod template;
pub mod ui;

use cli::{Cli, Command};
use exit::Exit;

/// Runs one command line and returns how the process should exit.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate(a) => commands::validate::run(&a),
        Command::Inspect(a) => commands::inspect::run(&a),
        Command::Fmt(a) => commands::fmt::run(&a),
        Command::Version => {
            output::line(&format!("ambake {}", env!("CARGO_PKG_VERSION")));
            Ok(Exit::Ok)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ambake", &mut buf);
            output::bytes(&buf);
            Ok(Exit::Ok)
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut buf)?;
            output::bytes(&buf);
            Ok(Exit::Ok)
        }
        Command::Build(a) => commands::build::run(&a),
        Command::Resume(a) => commands::build::resume(&a),
        Command::Whoami(a) => commands::whoami::run(&a),
        Command::Cleanup(a) => commands::cleanup::run(&a),
        Command::Transfer(a) => commands::transfer::run(&a),
        Command::IamPolicy(a) => commands::policy::run(&a),
    }
}
