//! Issue #11: no option is accepted and then ignored. Every option the schema marks supported
//! (sources, nested blocks, provisioners, post-processors) must be read somewhere in the code
//! that builds — not only by the decoder and the validator — or be listed below with the
//! reason it has no effect here, as in Packer. A new option that nothing reads fails this test.

use ambake::config::schema::{
    AMAZON_EBS, ARTIFICE, BREAKPOINT, CHECKSUM, COMPRESS, FILE, Field, Kind, MANIFEST, SHELL,
    SHELL_LOCAL, Support,
};

/// Accepted on purpose without code that reads them, with the reason.
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "ssh_disable_agent_forwarding",
        "ambake never forwards the agent: the option's effect always holds",
    ),
    (
        "use_linux_pathing",
        "shell-local on Windows only (WSL paths); ambake runs on Linux",
    ),
    ("Version", "policy documents are passed to IAM whole"),
    ("Statement", "policy documents are passed to IAM whole"),
    ("Effect", "policy documents are passed to IAM whole"),
    ("Action", "policy documents are passed to IAM whole"),
    ("Resource", "policy documents are passed to IAM whole"),
    ("key", "tag blocks become the tags map while decoding"),
    ("value", "tag blocks become the tags map while decoding"),
    ("tag", "`tag {}` blocks become `tags` while decoding"),
    (
        "run_tag",
        "`run_tag {}` blocks become `run_tags` while decoding",
    ),
    (
        "run_volume_tag",
        "blocks become `run_volume_tags` while decoding",
    ),
    (
        "snapshot_tag",
        "blocks become `snapshot_tags` while decoding",
    ),
    ("spot_tag", "blocks become `spot_tags` while decoding"),
    ("fleet_tag", "blocks become `fleet_tags` while decoding"),
    (
        "generated",
        "file: only lifts the validate-time check that the source exists (config/plugins.rs)",
    ),
    (
        "override",
        "per-source provisioner settings, merged while planning (config/plugins.rs)",
    ),
];

fn sources() -> String {
    let mut out = String::new();
    let mut stack = vec![super::support::repo().join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.to_string_lossy();
            // Declaring, decoding and validating an option is not acting on it.
            if [
                "config/schema.rs",
                "config/validate.rs",
                "config/plugins.rs",
                "config/zero_values_test.rs",
            ]
            .iter()
            .any(|x| rel.ends_with(x))
            {
                continue;
            }
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}

fn walk(fields: &[Field], out: &mut Vec<&'static str>) {
    for f in fields {
        if f.support != Support::Yes {
            continue;
        }
        out.push(f.name);
        if let Kind::Block(inner) | Kind::Blocks(inner) = f.kind {
            walk(inner, out);
        }
    }
}

#[test]
fn every_supported_option_is_read_by_the_build() {
    let code = sources();
    let mut names = Vec::new();
    for table in [
        AMAZON_EBS,
        SHELL,
        FILE,
        SHELL_LOCAL,
        BREAKPOINT,
        MANIFEST,
        CHECKSUM,
        COMPRESS,
        ARTIFICE,
    ] {
        walk(table, &mut names);
    }
    names.sort();
    names.dedup();
    let unread: Vec<&str> = names
        .into_iter()
        .filter(|n| !NO_EFFECT.iter().any(|(x, _)| x == n))
        .filter(|n| {
            let field = format!(".{n}");
            !code.match_indices(&field).any(|(i, _)| {
                !code[i + field.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect();
    assert!(
        unread.is_empty(),
        "accepted but read nowhere in the build (implement, refuse, or list with a reason): {unread:?}"
    );
}
