//! The subcommands. Each loads what it needs through the library and prints.

pub mod build;
pub mod cleanup;
pub mod fmt;
pub mod inspect;
pub mod orphans;
pub mod policy;
pub mod transfer;
pub mod validate;
pub mod whoami;

use crate::cli::VarArgs;
use crate::diag::Diagnostics;
use crate::template::{self, Configuration, LoadOptions};

/// Loads a configuration for a command; returns it with the diagnostics found on the way.
pub fn load(path: &str, vars: &VarArgs, diags: &mut Diagnostics) -> anyhow::Result<Configuration> {
    let opts = LoadOptions {
        path: path.to_string(),
        vars: vars.vars.clone(),
        var_files: vars.var_files.clone(),
    };
    template::load(&opts, &template::UnknownData, diags)
}

/// As [`load`], with data sources evaluated against AWS (builds, `-evaluate-datasources`).
pub fn load_with_aws(
    path: &str,
    vars: &VarArgs,
    diags: &mut Diagnostics,
) -> anyhow::Result<Configuration> {
    let opts = LoadOptions {
        path: path.to_string(),
        vars: vars.vars.clone(),
        var_files: vars.var_files.clone(),
    };
    let resolver = crate::datasources::AwsData::new()?;
    template::load(&opts, &resolver, diags)
}

/// Prints diagnostics to stderr, with sensitive values masked.
pub fn report(diags: &Diagnostics, map: &crate::diag::SourceMap, secrets: &[String]) {
    if !diags.items.is_empty() {
        eprint!("{}", crate::output::mask(&diags.render(map), secrets));
    }
}
