//! Issue #10: the `ansible` and `ansible-local` provisioners, with real ansible-core (from
//! PyPI, in .venv) driving the local sshd that plays the instance. Outcomes are files the
//! playbook wrote on the "instance", as the build's SSH user, with the variables it was given.

use super::build::{Bench, leftovers, run};
use super::emu;
use super::ssh::{owner, remote_dir, template};
use super::sshd::{Sshd, USER};
use super::support::repo;
use std::path::PathBuf;

fn venv_bin(name: &str) -> PathBuf {
    let p = repo().join(".venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: scripts/test installs ansible-core into .venv",
        p.display()
    );
    p
}

/// A playbook that records who ran it, a variable from `extra_arguments`, the inventory's
/// host alias and group, and Packer's `packer_builder_type`.
fn playbook(b: &Bench, rd: &str) -> PathBuf {
    let p = b.dir.path().join("site.yml");
    std::fs::write(
        &p,
        format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: write proof
      ansible.builtin.shell: |
        mkdir -p {rd}
        whoami > {rd}/whoami
        echo "{{{{ greeting }}}} {{{{ inventory_hostname }}}} {{{{ group_names | join(',') }}}} {{{{ packer_builder_type }}}}" > {rd}/vars
"#
        ),
    )
    .unwrap();
    p
}

#[test]
fn ansible_runs_the_playbook_against_the_instance_through_the_forward() {
    for use_proxy in ["", "use_proxy = false"] {
        let b = Bench::new(&[]);
        let sshd = Sshd::start(Some(&b.moto));
        let rd = remote_dir();
        let pb = playbook(&b, &rd);
        let inventory_dir = b.dir.path().join("inv");
        std::fs::create_dir(&inventory_dir).unwrap();
        let prov = format!(
            r#"  provisioner "ansible" {{
    command             = "{cmd}"
    playbook_file       = "{pb}"
    extra_arguments     = ["-e", "greeting=hello"]
    host_alias          = "web1"
    groups              = ["webservers"]
    inventory_directory = "{inv}"
    ansible_env_vars    = ["ANSIBLE_NOCOLOR=1"]
    {use_proxy}
  }}"#,
            cmd = venv_bin("ansible-playbook").display(),
            pb = pb.display(),
            inv = inventory_dir.display(),
        );
        let t = template(&b, sshd.port, "", &prov);
        let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
        assert_eq!(code, 0, "{use_proxy}: {out}\n--- sshd:\n{}", sshd.log());
        assert!(out.contains("Executing Ansible:"), "{out}");
        if use_proxy.is_empty() {
            assert!(out.contains("Forwarding 127.0.0.1:"), "{out}");
        } else {
            assert!(out.contains("Not using Proxy adapter"), "{out}");
        }
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/whoami"))
                .unwrap()
                .trim(),
            USER
        );
        assert_eq!(owner(&format!("{rd}/vars")), USER);
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/vars"))
                .unwrap()
                .trim(),
            "hello web1 webservers amazon-ebs"
        );
        // The generated inventory and the key file are gone (keep_inventory_file not set).
        assert_eq!(std::fs::read_dir(&inventory_dir).unwrap().count(), 0);
        let rt = emu::rt();
        assert!(rt.block_on(leftovers(&b.moto, true)).is_empty());
        let _ = std::fs::remove_dir_all(&rd);
    }
}

#[test]
fn a_failing_playbook_fails_the_build_with_packers_message() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let pb = b.dir.path().join("fail.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: /bin/false\n",
    )
    .unwrap();
    let prov = format!(
        "  provisioner \"ansible\" {{\n    command = \"{}\"\n    playbook_file = \"{}\"\n  }}",
        venv_bin("ansible-playbook").display(),
        pb.display()
    );
    let t = template(&b, sshd.port, "", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Error executing Ansible: Non-zero exit status: exit status 2"),
        "{out}"
    );
    let rt = emu::rt();
    assert!(rt.block_on(leftovers(&b.moto, false)).is_empty());
}

/// ansible-core installed for the instance's user by scripts/lib/install.sh.
const INSTANCE_ANSIBLE: &str = "/usr/local/lib/ambake-test/ansible";

#[test]
fn ansible_local_uploads_and_runs_on_the_instance() {
    assert!(
        std::path::Path::new(INSTANCE_ANSIBLE)
            .join("ansible")
            .exists(),
        "{INSTANCE_ANSIBLE} is missing: scripts/test installs it"
    );
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let rd = remote_dir();
    let roles = b.dir.path().join("roles/proof/tasks");
    std::fs::create_dir_all(&roles).unwrap();
    std::fs::write(
        roles.join("main.yml"),
        format!(
            "- ansible.builtin.shell: mkdir -p {rd} && echo \"{{{{ who }}}} from role\" > {rd}/role\n"
        ),
    )
    .unwrap();
    let pb = b.dir.path().join("local.yml");
    std::fs::write(
        &pb,
        "- hosts: all\n  gather_facts: false\n  roles:\n    - proof\n",
    )
    .unwrap();
    let staging = format!("{rd}-staging");
    let prov = format!(
        r#"  provisioner "ansible-local" {{
    command           = "PYTHONPATH={INSTANCE_ANSIBLE} /usr/bin/python3 -m ansible.cli.playbook"
    playbook_file     = "{pb}"
    role_paths        = ["{roles}"]
    extra_arguments   = ["-e", "who=ansible-local"]
    staging_directory = "{staging}"
    clean_staging_directory = true
  }}"#,
        pb = pb.display(),
        roles = b.dir.path().join("roles/proof").display(),
    );
    let t = template(&b, sshd.port, "", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/role"))
            .unwrap()
            .trim(),
        "ansible-local from role"
    );
    assert_eq!(owner(&format!("{rd}/role")), USER);
    assert!(
        !std::path::Path::new(&staging).exists(),
        "clean_staging_directory removes the staging directory"
    );
    let _ = std::fs::remove_dir_all(&rd);
}
