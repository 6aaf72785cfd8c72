//! Issue #8: cleanup never destroys what it must keep — a finished build's AMIs, a running
//! build's resources, an AMI of the same name made by someone else, another account's
//! resources — and never loses track of what it still has to delete (snapshots included).
//! Every test runs real `ambake` against moto (through the test proxy where AWS must be held,
//! failed or made to answer oddly) and asserts on moto's state.

use super::build::{Bench, journals, leftovers, run};
use super::emu::{self, REGION};
use std::process::Child;
use std::time::Duration;

const COPY_REGION: &str = "us-west-2";

/// The calls a whole build of the Bench template makes (through a proxy that only counts).
fn probe_calls() -> Vec<String> {
    probe_calls_with(&[])
}

/// The same, with `flags` for `ambake build`.
fn probe_calls_with(flags: &[&str]) -> Vec<String> {
    let probe = Bench::new(&["--date-offset=0"]);
    let t = probe.template("", "");
    let (code, out) = run(probe.cmd(&[&["build"], flags, &[t.to_str().unwrap()]].concat()));
    assert_eq!(code, 0, "{out}");
    probe.calls()
}

/// Where `action` first comes among the calls of a whole build of the Bench template: the
/// `--hold-after` that holds it.
fn first_call(action: &str) -> usize {
    probe_calls()
        .iter()
        .position(|c| c.starts_with(action))
        .unwrap_or_else(|| panic!("no {action} in a whole build"))
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn ec2(sdk: &aws_types::SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(sdk)
            .region(aws_types::region::Region::new(region.to_string()))
            .build(),
    )
}

/// The AMIs in a region owned by the account, with their snapshot ids and tags.
async fn images(moto: &emu::Moto, region: &str) -> Vec<aws_sdk_ec2::types::Image> {
    let sdk = moto.sdk().await;
    ec2(&sdk, region)
        .describe_images()
        .owners("self")
        .send()
        .await
        .unwrap()
        .images()
        .to_vec()
}

async fn snapshot_exists(moto: &emu::Moto, region: &str, id: &str) -> bool {
    let sdk = moto.sdk().await;
    ec2(&sdk, region)
        .describe_snapshots()
        .snapshot_ids(id)
        .send()
        .await
        .is_ok_and(|o| !o.snapshots().is_empty())
}

/// Instances that are not terminated (a build holding at CreateImage has stopped its own).
async fn live_instances(moto: &emu::Moto) -> usize {
    let sdk = moto.sdk().await;
    ec2(&sdk, REGION)
        .describe_instances()
        .send()
        .await
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .count()
}

/// Finding 1: kill -9 while the build removes its temporaries (its AMIs are finished), then
/// the recommended `ambake cleanup --all`: both AMIs and their snapshots stay. (With
/// -on-error=abort, whose successful build keeps its instance to the end: by default the
/// instance goes while the copies are made, before any AMI is finished.)
#[test]
fn kill_9_during_final_cleanup_then_cleanup_all_keeps_the_finished_amis() {
    let abort = ["-on-error=abort"];
    let calls = probe_calls_with(&abort);
    let last_tag = calls
        .iter()
        .rposition(|c| c.starts_with("CreateTags"))
        .unwrap();
    assert!(
        calls[last_tag..]
            .iter()
            .any(|c| c.starts_with("TerminateInstances")),
        "the instance goes after the AMIs are finished: {calls:?}"
    );
    let b = Bench::new(&["--hold-after", &(last_tag + 1).to_string()]);
    let t = b.template("", "");
    let mut child = b.held_build(&t, &abort, last_tag + 1);
    child.kill().unwrap();
    child.wait().unwrap();
    b.release();
    std::thread::sleep(Duration::from_millis(300));
    let rt = emu::rt();
    let before: Vec<_> = [REGION, COPY_REGION]
        .iter()
        .flat_map(|r| rt.block_on(images(&b.moto, r)))
        .collect();
    assert_eq!(before.len(), 2, "the AMI and its copy: {before:?}");
    let id = journals(&b)[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let journal = journals(&b)[0].clone();
    let saved = std::fs::read(&journal).unwrap();

    let (code, out) = run(b.cmd(&["cleanup", "--all"]));
    assert_eq!(code, 0, "{out}");
    for (region, img) in [REGION, COPY_REGION].iter().zip(&before) {
        let after = rt.block_on(images(&b.moto, region));
        assert!(
            after.iter().any(|i| i.image_id() == img.image_id()),
            "{region}: finished AMI {:?} deleted by cleanup --all\n{out}",
            img.image_id()
        );
        for m in img.block_device_mappings() {
            let snap = m.ebs().and_then(|e| e.snapshot_id()).unwrap();
            assert!(
                rt.block_on(snapshot_exists(&b.moto, region, snap)),
                "{region}: snapshot {snap} of a finished AMI deleted\n{out}"
            );
        }
    }
    let left = rt.block_on(leftovers(&b.moto, true));
    assert!(left.is_empty(), "temporaries left: {left:?}\n{out}");
    assert!(
        journals(&b).is_empty(),
        "journal kept after a clean cleanup"
    );

    // Only --include-artifacts reaches them, and it lists them first.
    std::fs::write(&journal, saved).unwrap();
    let (code, out) = run(b.cmd(&["cleanup", "--dry-run", "--include-artifacts", &id]));
    assert_eq!(code, 0, "{out}");
    for img in &before {
        assert!(
            out.contains(&format!("would delete AMI {}", img.image_id().unwrap())),
            "{out}"
        );
    }
}

/// Finding 2: `cleanup --orphans` from another shell (another state dir) while a build runs:
/// the build is too young to be an orphan, is left alone, and succeeds.
#[test]
fn orphans_during_a_live_build_leave_it_alone() {
    let k = first_call("CreateImage");
    let b = Bench::new(&["--hold-after", &k.to_string()]);
    let t = b.template("", "");
    let child = b.held_build(&t, &[], k);
    let other_state = b.dir.path().join("other-state");
    let mut c = b.cmd(&[
        "cleanup",
        "--orphans",
        "--region",
        REGION,
        "--region",
        COPY_REGION,
    ]);
    c.env("AMBAKE_STATE_DIR", &other_state)
        .env("AWS_ENDPOINT_URL", b.moto.url())
        .env("AWS_REGION", REGION);
    let (code, out) = run(c);
    b.release();
    let (bcode, bout) = finish(child);
    assert_eq!(
        bcode, 0,
        "the build was disturbed: {bout}\n--- cleanup said:\n{out}"
    );
    // Nothing old enough to delete: no confirmation needed, nothing deleted.
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Skipping build"), "{out}");
    assert!(emu::rt().block_on(leftovers(&b.moto, true)).is_empty());
}

/// `ami_name` for the pending-image tests: rendered at build time from the source AMI's name
/// (so pre-validation does not look for it, as when two builds race), to a name the harness
/// knows.
const SHARED_NAME: &str = "amzn-ami-hvm-2017.09.1.20171103-x86_64-gp2-shared";

fn shared_name_template(b: &Bench) -> std::path::PathBuf {
    let t = b.template("", "");
    let text = std::fs::read_to_string(&t).unwrap().replace(
        r#"ami_name        = "ambake-test-{{timestamp}}""#,
        r#"ami_name        = "{{ .SourceAMIName }}-shared""#,
    );
    assert!(text.contains("-shared"));
    std::fs::write(&t, text).unwrap();
    t
}

/// An AMI called `SHARED_NAME` that someone else made (no ambake tags).
async fn someone_elses_ami(moto: &emu::Moto) -> String {
    let sdk = moto.sdk().await;
    let ec2 = ec2(&sdk, REGION);
    let i = ec2
        .run_instances()
        .image_id("ami-760aaa0f")
        .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let iid = i.instances()[0].instance_id().unwrap().to_string();
    let img = ec2
        .create_image()
        .instance_id(&iid)
        .name(SHARED_NAME)
        .send()
        .await
        .unwrap();
    ec2.terminate_instances()
        .instance_ids(&iid)
        .send()
        .await
        .unwrap();
    img.image_id().unwrap().to_string()
}

/// Finding 3: an intent to create an AMI is resolved by this build's tag, never by name: an
/// AMI of the same name made by someone else survives both a failed CreateImage (two builds
/// racing for one name) and a kill -9 during CreateImage followed by `cleanup --all`.
#[test]
fn a_pending_image_never_takes_an_ami_of_the_same_name() {
    let rt = emu::rt();
    // The loser of a race: CreateImage answers InvalidAMIName.Duplicate.
    let b = Bench::new(&["--fail", "CreateImage:InvalidAMIName.Duplicate:1"]);
    let theirs = rt.block_on(someone_elses_ami(&b.moto));
    let t = shared_name_template(&b);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("InvalidAMIName.Duplicate"), "{out}");
    let ids: Vec<_> = rt
        .block_on(images(&b.moto, REGION))
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert_eq!(ids, vec![theirs.clone()], "their AMI was deleted\n{out}");

    // kill -9 while CreateImage is in flight, then cleanup from the journal.
    let k = first_call("CreateImage");
    let b = Bench::new(&["--hold-after", &k.to_string()]);
    let theirs = rt.block_on(someone_elses_ami(&b.moto));
    let t = shared_name_template(&b);
    let mut child = b.held_build(&t, &[], k);
    child.kill().unwrap();
    child.wait().unwrap();
    b.release();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        rt.block_on(images(&b.moto, REGION)).len(),
        2,
        "theirs and the killed build's"
    );
    let (code, out) = run(b.cmd(&["cleanup", "--all"]));
    assert_eq!(code, 0, "{out}");
    let ids: Vec<_> = rt
        .block_on(images(&b.moto, REGION))
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert_eq!(
        ids,
        vec![theirs],
        "cleanup must remove the build's AMI and only it\n{out}"
    );
}

/// Finding 4: the journal names the build's account; cleanup with another account's
/// credentials refuses and deletes nothing, then the right account cleans up.
#[test]
fn cleanup_with_another_accounts_credentials_refuses() {
    let b = Bench::new(&["--fail", "CreateImage:InvalidParameterValue:1"]);
    let t = b.template("", "");
    let (code, out) = run(b.cmd(&["build", "-on-error=abort", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let id = out
        .lines()
        .find_map(|l| l.split("ambake cleanup ").nth(1))
        .expect("the cleanup command")
        .trim()
        .to_string();
    let rt = emu::rt();
    let other = rt.block_on(async {
        let sts = aws_sdk_sts::Client::new(&b.moto.sdk().await);
        sts.assume_role()
            .role_arn("arn:aws:iam::111111111111:role/elsewhere")
            .role_session_name("other-account")
            .send()
            .await
            .unwrap()
            .credentials()
            .unwrap()
            .clone()
    });
    let mut c = b.cmd(&["cleanup", &id]);
    c.env("AWS_ACCESS_KEY_ID", other.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", other.secret_access_key())
        .env("AWS_SESSION_TOKEN", other.session_token());
    let (code, out) = run(c);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("account 123456789012") && out.contains("account 111111111111"),
        "both accounts named: {out}"
    );
    assert!(!out.contains(other.secret_access_key()), "{out}");
    assert_eq!(rt.block_on(live_instances(&b.moto)), 1, "{out}");
    assert_eq!(journals(&b).len(), 1, "the journal must stay: {out}");

    let (code, out) = run(b.cmd(&["cleanup", &id]));
    assert_eq!(code, 0, "{out}");
    let left = rt.block_on(leftovers(&b.moto, false));
    assert!(left.is_empty(), "{left:?}\n{out}");
}

/// Finding 5: `cleanup --all` skips the journal of a build that is running (locked), goes
/// past an empty and an unreadable journal (reporting them), and the build then succeeds.
#[test]
fn cleanup_all_skips_a_running_build_and_reads_past_bad_journals() {
    let k = first_call("CreateImage");
    let b = Bench::new(&["--hold-after", &k.to_string()]);
    let t = b.template("", "");
    let child = b.held_build(&t, &[], k);
    let state = b.state_dir();
    std::fs::write(state.join("00000000000000-empty.jsonl"), "").unwrap();
    std::fs::write(
        state.join("00000000000000-bad.jsonl"),
        "this is not a journal\n",
    )
    .unwrap();
    let (code, out) = run(b.cmd(&["cleanup", "--all"]));
    let instances = emu::rt().block_on(live_instances(&b.moto));
    b.release();
    assert_eq!(
        instances, 1,
        "the running build's instance was touched\n{out}"
    );
    assert_eq!(code, 1, "the unreadable journal makes it fail: {out}");
    assert!(out.contains("its build is still running"), "{out}");
    assert!(out.contains("empty journal"), "{out}");
    assert!(out.contains("00000000000000-bad.jsonl"), "{out}");
    let (code, bout) = finish(child);
    assert_eq!(code, 0, "{bout}\n--- cleanup said:\n{out}");
    assert!(!state.join("00000000000000-empty.jsonl").exists());
    assert!(emu::rt().block_on(leftovers(&b.moto, true)).is_empty());
}

/// Finding 6: an AMI's snapshots are journaled before it is deregistered, so a snapshot
/// whose delete fails is deleted by the next `ambake cleanup`.
#[test]
fn a_failed_snapshot_delete_is_finished_by_the_next_cleanup() {
    let b = Bench::new(&[
        "--fail",
        "CreateTags:InvalidParameterValue:1",
        "--fail",
        // Both AMIs' snapshots, twice each: inside the AMI's delete and from their own records.
        "DeleteSnapshot:InvalidParameterValue:4",
    ]);
    let t = b.template("", "");
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let id = out
        .lines()
        .find_map(|l| l.split("retry with: ambake cleanup ").nth(1))
        .unwrap_or_else(|| panic!("the retry command: {out}"))
        .trim()
        .to_string();
    let rt = emu::rt();
    let left = rt.block_on(leftovers(&b.moto, false));
    assert!(
        left.iter().any(|l| l.contains("snapshot")),
        "the failed delete leaves a snapshot: {left:?}"
    );
    let (code, out) = run(b.cmd(&["cleanup", &id]));
    assert_eq!(code, 0, "{out}");
    let left = rt.block_on(leftovers(&b.moto, false));
    assert!(left.is_empty(), "{left:?}\n{out}");
}

/// Finding 7: a create call answered without the new resource's id is an error naming the
/// call; nothing empty reaches the journal, nothing is left.
#[test]
fn an_answer_without_an_id_is_an_error_naming_the_call() {
    let answer = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        answer.path(),
        r#"<?xml version="1.0" encoding="UTF-8"?><CreateImageResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId></CreateImageResponse>"#,
    )
    .unwrap();
    let spec = format!("CreateImage:{}", answer.path().display());
    let b = Bench::new(&["--answer", &spec]);
    let t = b.template("", "");
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ec2:CreateImage in us-east-1 answered without an image id"),
        "{out}"
    );
    let left = emu::rt().block_on(leftovers(&b.moto, false));
    assert!(left.is_empty(), "{left:?}\n{out}");
    assert!(journals(&b).is_empty());
}

/// A journal is private to its user: 0600 files in a 0700 directory.
#[test]
fn journals_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let b = Bench::new(&["--fail", "CreateImage:InvalidParameterValue:1"]);
    let t = b.template("", "");
    let (code, out) = run(b.cmd(&["build", "-on-error=abort", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&b.state_dir()), 0o700);
    let j = &journals(&b)[0];
    assert_eq!(mode(j), 0o600);
    let (code, out) = run(b.cmd(&["cleanup", "--all"]));
    assert_eq!(code, 0, "{out}");
}

/// A key pair is deleted by name (EC2 offers nothing else here), so cleanup first checks the
/// name still belongs to the pair the build made: one recreated since under that name by
/// someone else stays.
#[test]
fn a_key_pair_name_taken_over_by_someone_else_is_kept() {
    let b = Bench::new(&[]);
    let rt = emu::rt();
    let theirs = rt.block_on(async {
        let sdk = b.moto.sdk().await;
        ec2(&sdk, REGION)
            .create_key_pair()
            .key_name("ambake_reused")
            .send()
            .await
            .unwrap()
            .key_pair_id()
            .unwrap()
            .to_string()
    });
    let state = b.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let id = "20200101000000-abcdef12";
    let start = serde_json::json!({"seq": 1, "ts": "x", "build_id": id, "event": "start",
        "build": "amazon-ebs.demo", "region": REGION, "endpoint": null, "profile": null,
        "assume_role": null, "account": "123456789012", "credentials": "test"});
    let created = serde_json::json!({"seq": 2, "ts": "x", "build_id": id, "event": "created",
        "resource": {"kind": "key_pair", "region": REGION, "name": "ambake_reused", "id": "key-0ours"},
        "lifetime": "temporary"});
    std::fs::write(
        state.join(format!("{id}.jsonl")),
        format!("{start}\n{created}\n"),
    )
    .unwrap();
    let (code, out) = run(b.cmd(&["cleanup", id]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("now belongs to another key pair"), "{out}");
    let still = rt.block_on(async {
        let sdk = b.moto.sdk().await;
        ec2(&sdk, REGION)
            .describe_key_pairs()
            .send()
            .await
            .unwrap()
            .key_pairs()
            .iter()
            .any(|k| k.key_pair_id() == Some(theirs.as_str()))
    });
    assert!(still, "their key pair was deleted:\n{out}");
}

/// Volumes the instance leaves behind: the one its launch made (tagged with the build's id)
/// goes with it, even when a provisioner, say, turned off its delete_on_termination; a user's
/// volume attached to it during the build (a data volume a provisioner mounted) is not the
/// build's and stays. The build knows the volumes from its stop wait: it does not describe the
/// instance a third time (running, stopped: two DescribeInstances in all).
#[test]
fn volumes_left_by_the_instance_go_only_if_the_build_made_them() {
    let stop = first_call("StopInstances");
    let b = Bench::new(&["--hold-after", &stop.to_string()]);
    let t = b.template("", "");
    let child = b.held_build(&t, &[], stop);
    let rt = emu::rt();
    let (root, theirs) = rt.block_on(async {
        let sdk = b.moto.sdk().await;
        let ec2 = ec2(&sdk, REGION);
        let out = ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let inst = &out.reservations()[0].instances()[0];
        let id = inst.instance_id().unwrap();
        let root = inst.block_device_mappings()[0].clone();
        let device = root.device_name().unwrap();
        ec2.modify_instance_attribute()
            .instance_id(id)
            .block_device_mappings(
                aws_sdk_ec2::types::InstanceBlockDeviceMappingSpecification::builder()
                    .device_name(device)
                    .ebs(
                        aws_sdk_ec2::types::EbsInstanceBlockDeviceSpecification::builder()
                            .delete_on_termination(false)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let zone = inst
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap();
        let vol = ec2
            .create_volume()
            .availability_zone(zone)
            .size(1)
            .send()
            .await
            .unwrap();
        let theirs = vol.volume_id().unwrap().to_string();
        ec2.attach_volume()
            .volume_id(&theirs)
            .instance_id(id)
            .device("/dev/sdf")
            .send()
            .await
            .unwrap();
        (root.ebs().unwrap().volume_id().unwrap().to_string(), theirs)
    });
    b.release();
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    let exists = |id: &str| {
        rt.block_on(async {
            let sdk = b.moto.sdk().await;
            ec2(&sdk, REGION)
                .describe_volumes()
                .volume_ids(id)
                .send()
                .await
                .is_ok_and(|o| !o.volumes().is_empty())
        })
    };
    assert!(
        !exists(&root),
        "the build's own volume {root} was left\n{out}"
    );
    assert!(
        exists(&theirs),
        "the user's volume {theirs} was deleted\n{out}"
    );
    assert!(out.contains(&format!("Kept volume {theirs}")), "{out}");
    let described = b
        .calls()
        .iter()
        .filter(|c| c.starts_with("DescribeInstances"))
        .count();
    assert_eq!(described, 2, "{:?}", b.calls());
    let left: Vec<String> = rt
        .block_on(leftovers(&b.moto, true))
        .into_iter()
        .filter(|l| !l.contains(&theirs))
        .collect();
    assert!(left.is_empty(), "{left:?}\n{out}");
}
