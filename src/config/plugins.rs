//! Typed provisioners, post-processors and data-source arguments.

use super::decode::{Spans, decode};
use super::schema::{self, Field};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::duration::parse_duration;
use crate::template::eval::EBody;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Options every provisioner and post-processor takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Common {
    pub name: Option<String>,
    pub pause_before: Option<String>,
    pub max_retries: Option<i64>,
    pub timeout: Option<String>,
    pub only: Vec<String>,
    pub except: Vec<String>,
    #[serde(rename = "override")]
    pub override_: BTreeMap<String, serde_json::Value>,
}

impl Common {
    /// Packer's only/except on a provisioner: names of sources (`amazon-ebs.x`, or the bare
    /// name, or the build's renamed name).
    pub fn applies_to(&self, names: &[String]) -> bool {
        let hit = |list: &[String]| list.iter().any(|n| names.contains(n));
        (self.only.is_empty() || hit(&self.only)) && !hit(&self.except)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Shell {
    pub inline: Vec<String>,
    pub script: Option<String>,
    pub scripts: Vec<String>,
    pub environment_vars: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub execute_command: Option<String>,
    pub inline_shebang: Option<String>,
    pub remote_folder: Option<String>,
    pub remote_file: Option<String>,
    pub remote_path: Option<String>,
    pub expect_disconnect: bool,
    pub valid_exit_codes: Vec<i64>,
    pub skip_clean: bool,
    pub start_retry_timeout: Option<String>,
    pub pause_after: Option<String>,
    pub use_env_var_file: bool,
    pub binary: bool,
    pub env_var_format: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct File {
    pub source: Option<String>,
    pub sources: Vec<String>,
    pub content: Option<String>,
    pub destination: Option<String>,
    pub direction: Option<String>,
    pub generated: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ShellLocal {
    pub command: Option<String>,
    pub inline: Vec<String>,
    pub script: Option<String>,
    pub scripts: Vec<String>,
    pub environment_vars: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub execute_command: Vec<String>,
    pub inline_shebang: Option<String>,
    pub only_on: Vec<String>,
    pub use_linux_pathing: bool,
    pub valid_exit_codes: Vec<i64>,
    pub env_var_format: Option<String>,
    pub tempfile_extension: Option<String>,
    pub keep_input_artifact: Option<bool>,
}

/// `provisioner "ansible"`: ansible-playbook on this machine against the instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Ansible {
    pub command: Option<String>,
    pub extra_arguments: Vec<String>,
    pub ansible_env_vars: Vec<String>,
    pub playbook_file: Option<String>,
    pub ansible_ssh_extra_args: Vec<String>,
    pub groups: Vec<String>,
    pub empty_groups: Vec<String>,
    pub host_alias: Option<String>,
    pub user: Option<String>,
    pub local_port: Option<i64>,
    pub skip_version_check: bool,
    pub use_sftp: bool,
    pub inventory_directory: Option<String>,
    pub inventory_file_template: Option<String>,
    pub inventory_file: Option<String>,
    pub keep_inventory_file: bool,
    pub galaxy_file: Option<String>,
    pub galaxy_command: Option<String>,
    pub galaxy_force_install: bool,
    pub galaxy_force_with_deps: bool,
    pub roles_path: Option<String>,
    pub collections_path: Option<String>,
    /// Packer's trilean: unset and `true` both mean "through the proxy".
    pub use_proxy: Option<bool>,
}

/// `provisioner "ansible-local"`: ansible-playbook on the instance, with uploaded files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AnsibleLocal {
    pub command: Option<String>,
    pub extra_arguments: Vec<String>,
    pub group_vars: Option<String>,
    pub host_vars: Option<String>,
    pub playbook_dir: Option<String>,
    pub playbook_file: Option<String>,
    pub playbook_files: Vec<String>,
    pub playbook_paths: Vec<String>,
    pub role_paths: Vec<String>,
    pub collection_paths: Vec<String>,
    pub staging_directory: Option<String>,
    pub clean_staging_directory: bool,
    pub inventory_file: Option<String>,
    pub inventory_groups: Vec<String>,
    pub galaxy_file: Option<String>,
    pub galaxy_command: Option<String>,
    pub galaxy_force_install: bool,
    pub galaxy_roles_path: Option<String>,
    pub galaxy_collections_path: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Breakpoint {
    pub disable: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Manifest {
    pub output: Option<String>,
    pub strip_path: bool,
    pub strip_time: bool,
    pub custom_data: BTreeMap<String, String>,
    pub keep_input_artifact: Option<bool>,
}

/// `post-processor "checksum"`: checksum files of the artifact it is given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Checksum {
    pub checksum_types: Vec<String>,
    pub output: Option<String>,
    pub keep_input_artifact: Option<bool>,
}

/// `post-processor "compress"`: an archive of the artifact's files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Compress {
    pub output: Option<String>,
    pub format: Option<String>,
    pub compression_level: Option<i64>,
    pub keep_input_artifact: Option<bool>,
}

/// `post-processor "artifice"`: files named in the template become the artifact.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Artifice {
    pub files: Vec<String>,
    pub keep_input_artifact: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", content = "config")]
pub enum ProvisionerKind {
    #[serde(rename = "shell")]
    Shell(Shell),
    #[serde(rename = "file")]
    File(File),
    #[serde(rename = "shell-local")]
    ShellLocal(ShellLocal),
    #[serde(rename = "breakpoint")]
    Breakpoint(Breakpoint),
    #[serde(rename = "ansible")]
    Ansible(Ansible),
    #[serde(rename = "ansible-local")]
    AnsibleLocal(AnsibleLocal),
}

#[derive(Debug, Clone, Serialize)]
pub struct Provisioner {
    #[serde(flatten)]
    pub kind: ProvisionerKind,
    pub common: Common,
    #[serde(skip)]
    pub span: Span,
}

// A handful per template, built once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", content = "config")]
pub enum PostProcessorKind {
    #[serde(rename = "manifest")]
    Manifest(Manifest),
    #[serde(rename = "shell-local")]
    ShellLocal(ShellLocal),
    #[serde(rename = "checksum")]
    Checksum(Checksum),
    #[serde(rename = "compress")]
    Compress(Compress),
    #[serde(rename = "artifice")]
    Artifice(Artifice),
}

impl PostProcessorKind {
    /// The type name as the template spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Manifest(_) => "manifest",
            Self::ShellLocal(_) => "shell-local",
            Self::Checksum(_) => "checksum",
            Self::Compress(_) => "compress",
            Self::Artifice(_) => "artifice",
        }
    }

    /// The template's `keep_input_artifact`, when it set one.
    pub fn keep_input_artifact(&self) -> Option<bool> {
        match self {
            Self::Manifest(m) => m.keep_input_artifact,
            Self::ShellLocal(s) => s.keep_input_artifact,
            Self::Checksum(c) => c.keep_input_artifact,
            Self::Compress(c) => c.keep_input_artifact,
            Self::Artifice(a) => a.keep_input_artifact,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PostProcessor {
    #[serde(flatten)]
    pub kind: PostProcessorKind,
    pub common: Common,
    #[serde(skip)]
    pub span: Span,
}

const PROVISIONER_TYPES: &[&str] = &[
    "shell",
    "file",
    "shell-local",
    "breakpoint",
    "ansible",
    "ansible-local",
];
pub const POST_PROCESSOR_TYPES: &[&str] = &[
    "manifest",
    "shell-local",
    "checksum",
    "compress",
    "artifice",
];

fn typed<T: serde::de::DeserializeOwned + Default>(
    json: &serde_json::Value,
    what: &str,
    span: &Span,
    diags: &mut Diagnostics,
) -> T {
    serde_json::from_value(json.clone()).unwrap_or_else(|e| {
        diags.error(format!("invalid {what}: {e}"), Some(span.clone()));
        T::default()
    })
}

fn unsupported(kind: &str, what: &str, known: &[&str], span: &Span, diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::error(
            format!("{what} type \"{kind}\" is not supported by ambake"),
            Some(span.clone()),
        )
        .with_help(format!(
            "supported {what}s: {}; exclude this build with -only/-except to validate the rest",
            known.join(", ")
        )),
    );
}

/// Types and checks one provisioner block whose body has been evaluated.
pub fn provisioner(
    kind: &str,
    body: &EBody,
    span: &Span,
    diags: &mut Diagnostics,
) -> Option<Provisioner> {
    let fields: &'static [Field] = match kind {
        "shell" => schema::SHELL,
        "file" => schema::FILE,
        "shell-local" => schema::SHELL_LOCAL,
        "breakpoint" => schema::BREAKPOINT,
        "ansible" => schema::ANSIBLE,
        "ansible-local" => schema::ANSIBLE_LOCAL,
        other => {
            unsupported(other, "provisioner", PROVISIONER_TYPES, span, diags);
            return None;
        }
    };
    let mut spans = Spans::new();
    let what = format!("provisioner \"{kind}\"");
    let json = decode(body, fields, &what, span, &mut spans, "", diags);
    let common: Common = typed(&json, &what, span, diags);
    check_common(&common, &spans, span, diags);
    let at = |k: &str| spans.get(k).cloned().unwrap_or_else(|| span.clone());
    let kind = match kind {
        "shell" => {
            let s: Shell = typed(&json, &what, span, diags);
            let n = usize::from(!s.inline.is_empty())
                + usize::from(s.script.is_some())
                + usize::from(!s.scripts.is_empty());
            if n == 0 {
                diags.error(
                    "Either a script file or inline script must be specified.",
                    Some(span.clone()),
                );
            } else if n > 1 {
                diags.error(
                    "Only one of script, scripts, or inline can be specified.",
                    Some(span.clone()),
                );
            }
            for script in s.script.iter().chain(&s.scripts) {
                if let Err(e) = std::fs::metadata(script) {
                    diags.error(
                        format!("Bad script '{script}': {e}"),
                        Some(at(if s.script.is_some() {
                            "script"
                        } else {
                            "scripts"
                        })),
                    );
                }
            }
            env_vars(&s.environment_vars, &at("environment_vars"), diags);
            for (k, d) in [
                ("start_retry_timeout", &s.start_retry_timeout),
                ("pause_after", &s.pause_after),
            ] {
                duration(k, d, &at(k), diags);
            }
            ProvisionerKind::Shell(s)
        }
        "file" => {
            let f: File = typed(&json, &what, span, diags);
            let n = usize::from(f.source.is_some())
                + usize::from(!f.sources.is_empty())
                + usize::from(f.content.is_some());
            if n == 0 {
                diags.error(
                    "Source must be specified (source, sources or content).",
                    Some(span.clone()),
                );
            } else if n > 1 {
                diags.error(
                    "Only one of source, sources or content can be specified.",
                    Some(span.clone()),
                );
            }
            if f.destination.as_deref().unwrap_or("").is_empty() {
                diags.error("Destination must be specified.", Some(span.clone()));
            }
            match f.direction.as_deref() {
                None | Some("upload") => {
                    if !f.generated {
                        for src in f.source.iter().chain(&f.sources) {
                            if std::fs::metadata(src).is_err() {
                                diags.error(
                                    format!("Bad source '{src}': no such file or directory"),
                                    Some(at(if f.source.is_some() {
                                        "source"
                                    } else {
                                        "sources"
                                    })),
                                );
                            }
                        }
                    }
                }
                Some("download") => {
                    if f.content.is_some() || f.sources.len() > 1 {
                        diags.error("A download takes one source path on the instance; content and several sources are for uploads.", Some(span.clone()));
                    }
                }
                Some(other) => diags.error(
                    format!("Direction must be one of: download, upload (got {other:?})"),
                    Some(at("direction")),
                ),
            }
            ProvisionerKind::File(f)
        }
        "shell-local" => {
            ProvisionerKind::ShellLocal(shell_local(&json, &what, &spans, span, diags))
        }
        "breakpoint" => ProvisionerKind::Breakpoint(typed(&json, &what, span, diags)),
        "ansible" => ProvisionerKind::Ansible(super::ansible_rules::ansible(
            typed(&json, &what, span, diags),
            &at,
            diags,
        )),
        "ansible-local" => ProvisionerKind::AnsibleLocal(super::ansible_rules::ansible_local(
            typed(&json, &what, span, diags),
            span,
            &at,
            diags,
        )),
        _ => unreachable!(),
    };
    Some(Provisioner {
        kind,
        common,
        span: span.clone(),
    })
}

fn shell_local(
    json: &serde_json::Value,
    what: &str,
    spans: &Spans,
    span: &Span,
    diags: &mut Diagnostics,
) -> ShellLocal {
    let s: ShellLocal = typed(json, what, span, diags);
    let n = usize::from(s.command.is_some())
        + usize::from(!s.inline.is_empty())
        + usize::from(s.script.is_some())
        + usize::from(!s.scripts.is_empty());
    if n == 0 {
        diags.error(
            "Command, Inline, Script and Scripts options cannot all be empty.",
            Some(span.clone()),
        );
    } else if n > 1 {
        diags.error(
            "Only one of command, inline, script or scripts can be specified.",
            Some(span.clone()),
        );
    }
    env_vars(
        &s.environment_vars,
        &spans
            .get("environment_vars")
            .cloned()
            .unwrap_or_else(|| span.clone()),
        diags,
    );
    s
}

/// Types and checks one post-processor block.
pub fn post_processor(
    kind: &str,
    body: &EBody,
    span: &Span,
    diags: &mut Diagnostics,
) -> Option<PostProcessor> {
    let fields: &'static [Field] = match kind {
        "manifest" => schema::MANIFEST,
        "shell-local" => schema::SHELL_LOCAL,
        "checksum" => schema::CHECKSUM,
        "compress" => schema::COMPRESS,
        "artifice" => schema::ARTIFICE,
        other => {
            unsupported(other, "post-processor", POST_PROCESSOR_TYPES, span, diags);
            return None;
        }
    };
    let mut spans = Spans::new();
    let what = format!("post-processor \"{kind}\"");
    let json = decode(body, fields, &what, span, &mut spans, "", diags);
    let common: Common = typed(&json, &what, span, diags);
    check_common(&common, &spans, span, diags);
    let kind = match kind {
        "manifest" => PostProcessorKind::Manifest(typed(&json, &what, span, diags)),
        "checksum" => PostProcessorKind::Checksum(checksum(&json, &what, &spans, span, diags)),
        "compress" => PostProcessorKind::Compress(compress(&json, &what, &spans, span, diags)),
        "artifice" => PostProcessorKind::Artifice(artifice(&json, &what, span, diags)),
        _ => PostProcessorKind::ShellLocal(shell_local(&json, &what, &spans, span, diags)),
    };
    Some(PostProcessor {
        kind,
        common,
        span: span.clone(),
    })
}

/// Warns about a `checksum` or `compress` that will get the AMI artifact, which has no files:
/// valid for Packer, but it checksums nothing / archives nothing — and Packer would then
/// deregister the AMIs a `compress` does not keep.
pub fn warn_fileless(chain: &[PostProcessor], diags: &mut Diagnostics) {
    let mut has_files = false;
    for pp in chain {
        let what = match &pp.kind {
            PostProcessorKind::Artifice(_) | PostProcessorKind::Compress(_) if has_files => None,
            PostProcessorKind::Artifice(_) => {
                has_files = true;
                None
            }
            PostProcessorKind::Compress(_) => {
                has_files = true;
                Some(
                    "writes an empty archive (Packer would then deregister the AMIs, as compress does not keep its input; ambake keeps them)",
                )
            }
            PostProcessorKind::Checksum(_) if !has_files => Some("writes no checksums"),
            _ => None,
        };
        if let Some(what) = what {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "post-processor \"{}\" gets the AMI artifact, which has no files: it {what}",
                        pp.kind.type_name()
                    ),
                    Some(pp.span.clone()),
                )
                .with_help("name the files with an artifice post-processor before it in the chain"),
            );
        }
    }
}

/// Packer's checksum Configure: every type must be one it knows.
fn checksum(
    json: &serde_json::Value,
    what: &str,
    spans: &Spans,
    span: &Span,
    diags: &mut Diagnostics,
) -> Checksum {
    let c: Checksum = typed(json, what, span, diags);
    for t in &c.checksum_types {
        if !crate::postproc::checksum::TYPES.contains(&t.as_str()) {
            diags.push(
                Diagnostic::error(
                    format!("Unrecognized checksum type: {t}"),
                    spans.get("checksum_types").cloned().or(Some(span.clone())),
                )
                .with_help(format!(
                    "known types: {}",
                    crate::postproc::checksum::TYPES.join(", ")
                )),
            );
        }
    }
    c
}

/// Packer's compress Configure; a level its writers refuse is told now rather than after the
/// AMI is made.
fn compress(
    json: &serde_json::Value,
    what: &str,
    spans: &Spans,
    span: &Span,
    diags: &mut Diagnostics,
) -> Compress {
    let c: Compress = typed(json, what, span, diags);
    if c.compression_level.is_some_and(|l| l < -1) {
        diags.error(
            "Invalid compression level. Expected an integer from -1 to 9.",
            spans
                .get("compression_level")
                .cloned()
                .or(Some(span.clone())),
        );
    }
    c
}

fn artifice(
    json: &serde_json::Value,
    what: &str,
    span: &Span,
    diags: &mut Diagnostics,
) -> Artifice {
    let a: Artifice = typed(json, what, span, diags);
    if a.files.is_empty() {
        diags.error(
            "No files specified in artifice configuration",
            Some(span.clone()),
        );
    }
    a
}

fn check_common(c: &Common, spans: &Spans, span: &Span, diags: &mut Diagnostics) {
    for (k, d) in [("pause_before", &c.pause_before), ("timeout", &c.timeout)] {
        duration(k, d, spans.get(k).unwrap_or(span), diags);
    }
    if !c.only.is_empty() && !c.except.is_empty() {
        diags.error(
            "only one of only or except can be set",
            spans.get("only").cloned().or(Some(span.clone())),
        );
    }
}

fn duration(key: &str, v: &Option<String>, span: &Span, diags: &mut Diagnostics) {
    if let Some(v) = v
        && let Err(e) = parse_duration(v)
    {
        diags.error(format!("Failed parsing {key}: {e}"), Some(span.clone()));
    }
}

fn env_vars(vars: &[String], span: &Span, diags: &mut Diagnostics) {
    for v in vars {
        if !v.contains('=') || v.starts_with('=') {
            diags.error(
                format!("Environment variable not in format 'key=value': {v}"),
                Some(span.clone()),
            );
        }
    }
}

/// The methods Packer's `data "http"` accepts.
const HTTP_METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// Checks a data source's arguments against its option table.
pub fn data_source(
    kind: &str,
    body: &EBody,
    span: &Span,
    diags: &mut Diagnostics,
) -> Option<serde_json::Value> {
    let fields: &'static [Field] = match kind {
        "amazon-ami" => schema::DATA_AMAZON_AMI,
        "amazon-parameterstore" => schema::DATA_PARAMETERSTORE,
        "http" => schema::DATA_HTTP,
        "amazon-secretsmanager" => schema::DATA_SECRETSMANAGER,
        _ => return None,
    };
    let mut spans = Spans::new();
    let json = decode(
        body,
        fields,
        &format!("data \"{kind}\""),
        span,
        &mut spans,
        "",
        diags,
    );
    if kind == "amazon-ami"
        && json
            .get("owners")
            .and_then(|o| o.as_array())
            .is_none_or(|o| o.is_empty())
    {
        diags.error(
            "For security reasons, your source AMI filter must declare an owner.",
            Some(span.clone()),
        );
    }
    if kind == "http" {
        if json.get("url").is_none() {
            diags.error("the `url` must be specified", Some(span.clone()));
        }
        if let Some(m) = json.get("method").and_then(|m| m.as_str())
            && !HTTP_METHODS.contains(&m)
        {
            diags.error(
                format!("the `method` must be one of {}", HTTP_METHODS.join(", ")),
                Some(span.clone()),
            );
        }
    }
    if kind == "amazon-secretsmanager" && json.get("name").is_none() {
        diags.error("a 'name' must be provided", Some(span.clone()));
    }
    if kind == "amazon-parameterstore" && json.get("name").is_none() {
        diags.error(
            "data \"amazon-parameterstore\" needs name",
            Some(span.clone()),
        );
    }
    Some(json)
}
