//! StepRunSourceInstance / StepRunSpotInstance, StepStopEBSBackedInstance,
//! StepModifyEBSBackedInstance. Calls: ec2:RunInstances (or ec2:CreateLaunchTemplate +
//! ec2:CreateFleet for spot), ec2:DescribeInstances, ec2:StopInstances,
//! ec2:ModifyInstanceAttribute.

use crate::aws::retry::retry;
use crate::aws::wait::Poll;
use crate::config::BuildPlan;
use crate::config::ebs::BlockDevice;
use crate::job::context::{Cx, aws_err, is_code};
use crate::job::journal::{Lifetime, Resource};
use crate::job::needs::Needs;
use crate::job::state::{AttachedVolume, BuildState, InstanceInfo};
use crate::job::tags::spec;
use aws_sdk_ec2::operation::run_instances::RunInstancesError;
use aws_sdk_ec2::types::*;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use base64::Engine as _;
use std::time::Duration;

/// Packer's default waits for instance state changes.
pub const INSTANCE_WAIT: Duration = Duration::from_secs(600);

pub fn block_devices(list: &[BlockDevice]) -> Vec<BlockDeviceMapping> {
    list.iter()
        .map(|d| {
            let mut m = BlockDeviceMapping::builder().set_device_name(d.device_name.clone());
            if d.no_device {
                return m.no_device("").build();
            }
            if let Some(v) = &d.virtual_name {
                return m.virtual_name(v).build();
            }
            let mut ebs = EbsBlockDevice::builder().delete_on_termination(d.delete_on_termination);
            if let Some(s) = d.volume_size {
                ebs = ebs.volume_size(s as i32);
            }
            if let Some(t) = &d.volume_type {
                ebs = ebs.volume_type(VolumeType::from(t.as_str()));
            }
            if let Some(i) = d.iops {
                ebs = ebs.iops(i as i32);
            }
            if let Some(t) = d.throughput {
                ebs = ebs.throughput(t as i32);
            }
            if let Some(e) = d.encrypted {
                ebs = ebs.encrypted(e);
            }
            if let Some(k) = &d.kms_key_id {
                ebs = ebs.kms_key_id(k);
            }
            if let Some(s) = &d.snapshot_id {
                ebs = ebs.snapshot_id(s);
            }
            m = m.ebs(ebs.build());
            m.build()
        })
        .collect()
}

/// user_data as EC2 wants it: base64, unless it already is valid base64 (Packer's rule).
pub fn user_data(c: &crate::config::ebs::AmazonEbs) -> anyhow::Result<Option<String>> {
    let raw = match (&c.user_data, &c.user_data_file) {
        (Some(d), _) => d.clone(),
        (None, Some(f)) => std::fs::read_to_string(crate::paths::expand_home(f))
            .map_err(|e| anyhow::anyhow!("cannot read user_data_file {f}: {e}"))?,
        (None, None) => return Ok(None),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Some(
        if b64.decode(raw.trim()).is_ok() && !raw.trim().is_empty() {
            raw
        } else {
            b64.encode(raw)
        },
    ))
}

/// The EBS volumes an instance lists as attached.
pub fn attached(i: &Instance) -> Vec<AttachedVolume> {
    i.block_device_mappings()
        .iter()
        .filter_map(|m| {
            let ebs = m.ebs()?;
            Some(AttachedVolume {
                device: m.device_name().map(String::from),
                volume_id: ebs.volume_id()?.to_string(),
                delete_on_termination: ebs.delete_on_termination(),
            })
        })
        .collect()
}

pub fn info(i: &Instance) -> InstanceInfo {
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        public_ip: i.public_ip_address().map(String::from),
        private_ip: i.private_ip_address().map(String::from),
        public_dns: i
            .public_dns_name()
            .filter(|s| !s.is_empty())
            .map(String::from),
        private_dns: i
            .private_dns_name()
            .filter(|s| !s.is_empty())
            .map(String::from),
        ipv6: i.ipv6_address().map(String::from),
        vpc_id: i.vpc_id().map(String::from),
    }
}

/// Polls DescribeInstances for one instance and a wanted state.
pub async fn wait_state(
    cx: &Cx,
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    want: &str,
    region: &str,
) -> anyhow::Result<Instance> {
    let spec = cx.learned_spec(
        &format!("instance-{want}"),
        region,
        format!("instance {id} to be {want}"),
        INSTANCE_WAIT,
    );
    cx.wait(spec, || async {
        let out = match ec2.describe_instances().instance_ids(id).send().await {
            Ok(o) => o,
            Err(e) if is_code(&e, &["InvalidInstanceID.NotFound"]) => return Ok(Poll::NotFound),
            Err(e) => return Err(aws_err("ec2:DescribeInstances", region, e).to_string()),
        };
        let Some(inst) = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .cloned()
        else {
            return Ok(Poll::NotFound);
        };
        let state = inst
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        if state == want {
            return Ok(Poll::Done(inst));
        }
        if want != "terminated" && (state == "terminated" || state == "shutting-down") {
            let reason = inst
                .state_reason()
                .and_then(|r| r.message())
                .unwrap_or("no reason given");
            return Ok(Poll::Failed(format!("the instance is {state}: {reason}")));
        }
        Ok(Poll::Pending(state))
    })
    .await
}

pub async fn run(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    use super::capacity::{NoCapacity, Pool};
    let c = &cx.plan.config;
    let spot = cx.plan.decided.launch.is_spot();
    let run_tags = super::security::run_tags(cx, st)?;
    let volume_tags = cx.render_map(&c.run_volume_tags, st)?;
    // Pools in order: the subnet the network step chose, then the others the configuration
    // allows (looked up on the first capacity failure); then, with spot_fallback_on_demand,
    // all of them again on demand.
    let first = Pool {
        subnet: st.subnet_id.clone(),
        az: st.availability_zone.clone(),
    };
    let mut all = vec![first.clone()];
    let mut pools = std::collections::VecDeque::from([first]);
    let mut looked_further = false;
    let mut on_demand = !spot;
    let mut failures: Vec<String> = Vec::new();
    let mut attempt = 0;
    let (id, launched_spot) = loop {
        let Some(pool) = pools.pop_front() else {
            if !looked_further {
                looked_further = true;
                let more = super::capacity::more_pools(cx, st).await?;
                all.extend(more.iter().cloned());
                pools.extend(more);
                if !pools.is_empty() {
                    continue;
                }
            }
            if !on_demand && c.spot_fallback_on_demand {
                on_demand = true;
                cx.ui.say(
                    "No spot capacity in any pool; launching on demand (spot_fallback_on_demand)...",
                );
                pools.extend(all.iter().cloned());
                continue;
            }
            anyhow::bail!(
                "no capacity for the build instance in {}: tried {}",
                cx.region(),
                failures.join("; ")
            );
        };
        st.subnet_id = pool.subnet.clone();
        st.availability_zone = pool.az.clone();
        let r = if on_demand {
            run_on_demand(cx, st, &run_tags, &volume_tags, attempt, &pool).await
        } else {
            run_spot(cx, st, &run_tags, &volume_tags, attempt, &pool).await
        };
        attempt += 1;
        match r {
            Ok(id) => break (id, !on_demand),
            Err(e) => match e.downcast::<NoCapacity>() {
                Ok(NoCapacity(tried)) => {
                    for t in &tried {
                        cx.ui.message(&format!("No capacity: {t}"));
                    }
                    failures.extend(tried);
                }
                Err(e) => return Err(e),
            },
        }
    };
    if !failures.is_empty() {
        cx.ui.message(&format!(
            "Launched after {} pool(s) without capacity",
            failures.len()
        ));
    }
    // Volumes that outlive the instance (Packer's StepCleanupVolumes) are journaled now, before
    // the wait, as "whatever this instance has attached, but the devices the user listed".
    cx.record(
        Resource::InstanceVolumes {
            region: cx.region().to_string(),
            instance_id: id.clone(),
            keep: c
                .launch_block_device_mappings
                .iter()
                .filter_map(|d| d.device_name.clone())
                .collect(),
        },
        Lifetime::Temporary,
    )?;
    cx.ui.message(&format!("Instance ID: {id}"));
    cx.ui
        .say(&format!("Waiting for instance ({id}) to become ready..."));
    let inst = wait_state(cx, &cx.ec2, &id, "running", cx.region()).await?;
    st.spot = launched_spot;
    st.instance = Some(info(&inst));
    Ok(())
}

/// Journals the intent to launch, before the call: instances it makes are found by the
/// build's tag even if the answer never arrives.
fn record_pending(cx: &Cx) -> anyhow::Result<Resource> {
    let pending = Resource::PendingInstances {
        region: cx.region().to_string(),
        build_id: cx.build_id.clone(),
    };
    cx.record(pending.clone(), Lifetime::Temporary)?;
    Ok(pending)
}

/// The instance types a launch may use, as decided: the spot types (or the one type), or
/// `instance_type` on demand.
fn launch_types(cx: &Cx) -> Vec<String> {
    match &cx.plan.decided.launch {
        crate::config::decided::Launch::Spot { instance_types, .. } => instance_types.clone(),
        crate::config::decided::Launch::OnDemand => {
            cx.plan.config.instance_type.iter().cloned().collect()
        }
    }
}

/// RunInstances in one subnet, for each instance type in turn (one, unless this is the
/// on-demand fallback of a spot build with several types).
async fn run_on_demand(
    cx: &Cx,
    st: &BuildState,
    run_tags: &std::collections::BTreeMap<String, String>,
    volume_tags: &std::collections::BTreeMap<String, String>,
    attempt: usize,
    pool: &super::capacity::Pool,
) -> anyhow::Result<String> {
    let c = &cx.plan.config;
    let source = st.source()?.clone();
    let types = launch_types(cx);
    let pending = record_pending(cx)?;
    let mut no_capacity = Vec::new();
    for (n, t) in types.iter().enumerate() {
        cx.ui.say("Launching a source AWS instance...");
        let mut launch = super::launch::decide(c, st, &source.id, user_data(c)?, false);
        launch.instance_type = Some(t.clone());
        let req = super::launch::run_instances(&launch, cx.ec2.run_instances())
            .min_count(1)
            .max_count(1)
            .tag_specifications(spec(ResourceType::Instance, &cx.build_id, run_tags))
            .tag_specifications(spec(ResourceType::Volume, &cx.build_id, volume_tags))
            // Idempotent: a retried RunInstances with the same token launches nothing new;
            // each pool has its own.
            .client_token(if attempt == 0 && n == 0 {
                format!("{}-run", cx.build_id)
            } else {
                format!("{}-run-{attempt}-{n}", cx.build_id)
            });
        // A fresh temporary instance profile may not be usable yet (IAM is eventually
        // consistent): retry that one error, briefly.
        let profile_not_visible = |e: &SdkError<RunInstancesError, HttpResponse>| {
            let yes = is_code(e, &["InvalidParameterValue"])
                && crate::aws::errors::explain(e)
                    .to_string()
                    .contains("iamInstanceProfile");
            if yes {
                cx.ui
                    .message("The instance profile is not visible to EC2 yet; retrying...");
            }
            yes
        };
        let out = match retry(
            "the instance profile to be visible to EC2",
            Duration::from_secs(60),
            &cx.cancel,
            &profile_not_visible,
            || req.clone().send(),
        )
        .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = e.into_anyhow(|e| {
                    if is_code(&e, super::capacity::CODES) {
                        anyhow::Error::new(super::capacity::NoCapacity(vec![format!(
                            "{t} on demand in {pool}: {}",
                            crate::aws::errors::explain(&e)
                        )]))
                    } else {
                        aws_err("ec2:RunInstances", cx.region(), e)
                    }
                });
                match e.downcast::<super::capacity::NoCapacity>() {
                    Ok(nc) => {
                        no_capacity.extend(nc.0);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let id = crate::aws::errors::required(
            out.instances().first().and_then(|i| i.instance_id()),
            "ec2:RunInstances",
            "an instance id",
            cx.region(),
        )?;
        cx.fulfil(
            pending,
            Resource::Instance {
                region: cx.region().to_string(),
                id: id.clone(),
            },
            Lifetime::Temporary,
        )?;
        return Ok(id);
    }
    Err(super::capacity::NoCapacity(no_capacity).into())
}

async fn run_spot(
    cx: &Cx,
    st: &BuildState,
    run_tags: &std::collections::BTreeMap<String, String>,
    volume_tags: &std::collections::BTreeMap<String, String>,
    attempt: usize,
    pool: &super::capacity::Pool,
) -> anyhow::Result<String> {
    let c = &cx.plan.config;
    let source = st.source()?;
    // One launch template per pool: the subnet can be part of its network interface.
    let name = if attempt == 0 {
        format!("ambake-fleet-launch-template-{}", cx.build_id)
    } else {
        format!("ambake-fleet-launch-template-{}-{attempt}", cx.build_id)
    };
    cx.ui.say(&format!(
        "Launching a spot AWS instance (spot_price {})...",
        c.spot_price.as_deref().unwrap_or_default()
    ));
    let mut market = LaunchTemplateSpotMarketOptionsRequest::builder();
    if let Some(p) = c.spot_price.as_deref().filter(|p| *p != "auto") {
        market = market.max_price(p);
    }
    // Everything the on-demand launch sends, in the launch template's types.
    let launch = super::launch::decide(c, st, &source.id, user_data(c)?, true);
    let mut data = super::launch::template_data(&launch)
        .instance_market_options(
            LaunchTemplateInstanceMarketOptionsRequest::builder()
                .market_type(MarketType::Spot)
                .spot_options(market.build())
                .build(),
        )
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(crate::job::tags::ec2_tags(
                    &crate::job::tags::with_build_id(run_tags, &cx.build_id),
                )))
                .build(),
        )
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Volume)
                .set_tags(Some(crate::job::tags::ec2_tags(
                    &crate::job::tags::with_build_id(volume_tags, &cx.build_id),
                )))
                .build(),
        );
    if !c.spot_tags.is_empty() {
        let spot_tags = cx.render_map(&c.spot_tags, st)?;
        data = data.tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::SpotInstancesRequest)
                .set_tags(Some(crate::job::tags::ec2_tags(
                    &crate::job::tags::with_build_id(&spot_tags, &cx.build_id),
                )))
                .build(),
        );
    }
    let lt = cx
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(data.build())
        .tag_specifications(spec(ResourceType::LaunchTemplate, &cx.build_id, run_tags))
        .send()
        .await
        .map_err(|e| aws_err("ec2:CreateLaunchTemplate", cx.region(), e))?;
    let lt_id = crate::aws::errors::required(
        lt.launch_template().and_then(|t| t.launch_template_id()),
        "ec2:CreateLaunchTemplate",
        "a launch template id",
        cx.region(),
    )?;
    cx.record(
        Resource::LaunchTemplate {
            region: cx.region().to_string(),
            id: lt_id.clone(),
        },
        Lifetime::Temporary,
    )?;
    let types = launch_types(cx);
    let mut cfg = FleetLaunchTemplateConfigRequest::builder().launch_template_specification(
        FleetLaunchTemplateSpecificationRequest::builder()
            .launch_template_id(&lt_id)
            .version("$Latest")
            .build(),
    );
    for t in &types {
        let mut o = FleetLaunchTemplateOverridesRequest::builder()
            .instance_type(InstanceType::from(t.as_str()));
        if let Some(s) = &st.subnet_id {
            o = o.subnet_id(s);
        }
        cfg = cfg.overrides(o.build());
    }
    let mut spot_opts = SpotOptionsRequest::builder();
    if let Some(a) = &c.spot_allocation_strategy {
        spot_opts = spot_opts.allocation_strategy(SpotAllocationStrategy::from(a.as_str()));
    }
    let pending = record_pending(cx)?;
    let r = cx
        .ec2
        .create_fleet()
        .r#type(FleetType::Instant)
        .launch_template_configs(cfg.build())
        .target_capacity_specification(
            TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(1)
                .default_target_capacity_type(DefaultTargetCapacityType::Spot)
                .build(),
        )
        .spot_options(spot_opts.build())
        .replace_unhealthy_instances(false)
        .set_tag_specifications(
            (!c.fleet_tags.is_empty())
                .then(|| vec![spec(ResourceType::Fleet, &cx.build_id, &c.fleet_tags)]),
        )
        .client_token(format!("{}-fleet-{attempt}", cx.build_id))
        .send()
        .await;
    let r = match r {
        Ok(r) => r,
        Err(e) if is_code(&e, super::capacity::CODES) => {
            return Err(super::capacity::NoCapacity(vec![format!(
                "spot {} in {pool}: {}",
                types.join(", "),
                crate::aws::errors::explain(&e)
            )])
            .into());
        }
        Err(e) => return Err(aws_err("ec2:CreateFleet", cx.region(), e)),
    };
    let ids: Vec<String> = r
        .instances()
        .iter()
        .flat_map(|i| i.instance_ids().iter().cloned())
        .filter(|id| !id.is_empty())
        .collect();
    // Journal whatever came back, even alongside errors.
    for id in &ids {
        cx.record(
            Resource::Instance {
                region: cx.region().to_string(),
                id: id.clone(),
            },
            Lifetime::Temporary,
        )?;
    }
    if let Some(id) = ids.first() {
        cx.journal
            .append(crate::job::journal::Event::Deleted {
                resource: pending.clone(),
            })
            .map_err(|e| anyhow::anyhow!("cannot write the build journal: {e}"))?;
        return Ok(id.clone());
    }
    let describe = |e: &CreateFleetError| {
        let t = e
            .launch_template_and_overrides()
            .and_then(|l| l.overrides())
            .and_then(|o| o.instance_type())
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| types.join(", "));
        format!(
            "spot {t} in {pool}: {}: {}",
            e.error_code().unwrap_or_default(),
            e.error_message().unwrap_or_default()
        )
    };
    let errors: Vec<String> = r.errors().iter().map(describe).collect();
    let all_capacity = !r.errors().is_empty()
        && r.errors()
            .iter()
            .all(|e| super::capacity::is_capacity(e.error_code().unwrap_or_default()));
    if all_capacity {
        return Err(super::capacity::NoCapacity(errors).into());
    }
    anyhow::bail!(
        "ec2:CreateFleet in {} launched no spot instance: {}",
        cx.region(),
        errors.join("; ")
    )
}

pub async fn stop(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    if st.spot {
        return Ok(());
    }
    let id = st.instance()?.id.clone();
    if !c.disable_stop_instance {
        cx.ui.say("Stopping the source instance...");
        retry(
            "the instance to be visible to StopInstances",
            Duration::from_secs(45),
            &cx.cancel,
            &|e| is_code(e, &["InvalidInstanceID.NotFound"]),
            || cx.ec2.stop_instances().instance_ids(&id).send(),
        )
        .await
        .map_err(|e| e.into_anyhow(|e| aws_err("ec2:StopInstances", cx.region(), e)))?;
    } else {
        cx.ui
            .say("Automatic instance stop disabled. Please stop the instance manually.");
    }
    cx.ui.say("Waiting for the instance to stop...");
    let stopped = wait_state(cx, &cx.ec2, &id, "stopped", cx.region()).await?;
    st.stopped_volumes = Some(attached(&stopped));
    Ok(())
}

pub async fn modify(cx: &Cx, st: &BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let id = &st.instance()?.id;
    if c.sriov_support {
        cx.ui.say("Enabling Enhanced Networking (SR-IOV)...");
        cx.ec2
            .modify_instance_attribute()
            .instance_id(id)
            .sriov_net_support(AttributeValue::builder().value("simple").build())
            .send()
            .await
            .map_err(|e| aws_err("ec2:ModifyInstanceAttribute", cx.region(), e))?;
    }
    if let Some(ena) = c.ena_support {
        cx.ui.say(&format!(
            "{} Enhanced Networking (ENA)...",
            if ena { "Enabling" } else { "Disabling" }
        ));
        cx.ec2
            .modify_instance_attribute()
            .instance_id(id)
            .ena_support(AttributeBooleanValue::builder().value(ena).build())
            .send()
            .await
            .map_err(|e| aws_err("ec2:ModifyInstanceAttribute", cx.region(), e))?;
    }
    Ok(())
}

/// IAM actions of the run, stop and modify steps (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut Needs) {
    let c = &p.config;
    n.add("ec2:RunInstances", "launch the build instance");
    n.add("ec2:DescribeInstances", "wait for the instance");
    n.add("ec2:TerminateInstances", "remove the build instance");
    n.add(
        "ec2:CreateTags",
        "tag resources at creation (ambake:build-id) and the AMIs",
    );
    // Only for volumes that outlive the instance (delete-on-termination off in the source
    // AMI), which a successful build with the usual AMIs never meets: marked like the undo
    // actions, so the policy check does not expect a build to fail without it.
    n.put(
        "ec2:DescribeVolumes",
        "check that a volume the instance leaves behind is the build's (its ambake:build-id tag)",
        true,
    );
    n.put(
        "ec2:DeleteVolume",
        "remove volumes the source AMI leaves behind (not deleted on termination)",
        true,
    );
    if p.decided.launch.is_spot() {
        n.add(
            "ec2:CreateLaunchTemplate",
            "spot: the fleet's launch template",
        );
        n.add(
            "ec2:DeleteLaunchTemplate",
            "spot: remove the launch template",
        );
        n.add("ec2:CreateFleet", "spot: launch through an instant fleet");
    } else {
        n.add("ec2:StopInstances", "stop the instance before CreateImage");
    }
    if c.ena_support.is_some() || c.sriov_support {
        n.add("ec2:ModifyInstanceAttribute", "ena_support / sriov_support");
    }
}
