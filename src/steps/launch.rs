//! What the build instance is launched with, decided once from the plan and the state earlier
//! steps left — the same [`LaunchSpec`] for RunInstances (on demand) and for the spot launch
//! template, so a spot build sends every option an on-demand build sends (block devices,
//! metadata options, public IP, placement, credits, capacity reservation, licences, …) instead
//! of dropping some silently. [`decide`] is pure and unit-tested; the two adapters only move
//! fields into the SDK's request types.

use crate::config::ebs::AmazonEbs;
use crate::job::state::BuildState;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::*;

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub image_id: String,
    /// One instance type; `None` when a spot fleet chooses among several.
    pub instance_type: Option<String>,
    pub ebs_optimized: bool,
    /// Sent on demand always (Packer's default "stop"); with spot only when written.
    pub shutdown_behavior: Option<String>,
    pub block_devices: Vec<BlockDeviceMapping>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub instance_profile: Option<String>,
    pub network: Network,
    pub placement: Option<PlacementSpec>,
    pub metadata: Option<MetadataSpec>,
    /// "standard" or "unlimited" for burstable types.
    pub credits: Option<&'static str>,
    pub enclave: bool,
    pub capacity: Option<CapacitySpec>,
    pub licenses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Network {
    /// associate_public_ip_address with a subnet: a network interface says so.
    Interface {
        subnet: String,
        public_ip: bool,
        groups: Vec<String>,
    },
    Plain {
        subnet: Option<String>,
        groups: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacementSpec {
    pub availability_zone: Option<String>,
    pub tenancy: Option<String>,
    pub host_id: Option<String>,
    pub host_resource_group_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetadataSpec {
    pub http_endpoint: Option<String>,
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i32>,
    pub instance_metadata_tags: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CapacitySpec {
    Preference(String),
    Target {
        id: Option<String>,
        group_arn: Option<String>,
    },
}

/// The launch, from the options and what earlier steps found (subnet, AZ, groups, key,
/// instance profile). `spot`: the request is a launch template for a fleet.
pub fn decide(
    c: &AmazonEbs,
    st: &BuildState,
    image_id: &str,
    user_data: Option<String>,
    spot: bool,
) -> LaunchSpec {
    let instance_type = match (&c.instance_type, c.spot_instance_types.as_slice()) {
        (Some(t), _) => Some(t.clone()),
        (None, [one]) => Some(one.clone()),
        _ => None,
    };
    let burstable = instance_type.as_deref().is_some_and(|t| {
        ["t2.", "t3.", "t3a.", "t4g."]
            .iter()
            .any(|p| t.starts_with(p))
    });
    let unlimited = c.enable_unlimited_credits || c.enable_t2_unlimited;
    let network = match (c.associate_public_ip_address, &st.subnet_id) {
        (Some(public_ip), Some(subnet)) => Network::Interface {
            subnet: subnet.clone(),
            public_ip,
            groups: st.security_group_ids.clone(),
        },
        _ => Network::Plain {
            subnet: st.subnet_id.clone(),
            groups: st.security_group_ids.clone(),
        },
    };
    let tenancy = c
        .tenancy
        .clone()
        .or_else(|| c.placement.as_ref().and_then(|p| p.tenancy.clone()));
    let availability_zone = st.availability_zone.clone().or(c.availability_zone.clone());
    let placement = (availability_zone.is_some() || tenancy.is_some() || c.placement.is_some())
        .then(|| PlacementSpec {
            availability_zone,
            tenancy,
            host_id: c.placement.as_ref().and_then(|p| p.host_id.clone()),
            host_resource_group_arn: c
                .placement
                .as_ref()
                .and_then(|p| p.host_resource_group_arn.clone()),
        });
    let metadata = c.metadata_options.as_ref().map(|m| MetadataSpec {
        http_endpoint: m.http_endpoint.clone(),
        http_tokens: m.http_tokens.clone(),
        hop_limit: m.http_put_response_hop_limit.map(|v| v as i32),
        instance_metadata_tags: m.instance_metadata_tags.clone(),
    });
    let capacity = match (
        &c.capacity_reservation_preference,
        &c.capacity_reservation_id,
        &c.capacity_reservation_group_arn,
    ) {
        (Some(p), _, _) => Some(CapacitySpec::Preference(p.clone())),
        (None, None, None) => None,
        (None, id, arn) => Some(CapacitySpec::Target {
            id: id.clone(),
            group_arn: arn.clone(),
        }),
    };
    LaunchSpec {
        image_id: image_id.to_string(),
        instance_type,
        ebs_optimized: c.ebs_optimized,
        shutdown_behavior: if spot {
            c.shutdown_behavior.clone()
        } else {
            Some(c.shutdown_behavior.clone().unwrap_or_else(|| "stop".into()))
        },
        block_devices: super::instance::block_devices(&c.launch_block_device_mappings),
        key_name: st.key.name.clone(),
        user_data,
        instance_profile: st.instance_profile.clone(),
        network,
        placement,
        metadata,
        credits: if unlimited {
            Some("unlimited")
        } else {
            burstable.then_some("standard")
        },
        enclave: c.enable_nitro_enclave,
        capacity,
        licenses: c
            .license_specifications
            .iter()
            .filter_map(|l| {
                l.license_configuration_request
                    .as_ref()
                    .and_then(|r| r.license_configuration_arn.clone())
            })
            .collect(),
    }
}

/// The on-demand request.
pub fn run_instances(
    s: &LaunchSpec,
    mut req: RunInstancesFluentBuilder,
) -> RunInstancesFluentBuilder {
    req = req
        .image_id(&s.image_id)
        .set_instance_type(s.instance_type.as_deref().map(InstanceType::from))
        .ebs_optimized(s.ebs_optimized)
        .set_instance_initiated_shutdown_behavior(
            s.shutdown_behavior.as_deref().map(ShutdownBehavior::from),
        )
        .set_block_device_mappings(Some(s.block_devices.clone()).filter(|v| !v.is_empty()))
        .set_key_name(s.key_name.clone())
        .set_user_data(s.user_data.clone());
    if let Some(p) = &s.instance_profile {
        req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
    }
    match &s.network {
        Network::Interface {
            subnet,
            public_ip,
            groups,
        } => {
            req = req.network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(subnet)
                    .associate_public_ip_address(*public_ip)
                    .delete_on_termination(true)
                    .set_groups(Some(groups.clone()).filter(|g| !g.is_empty()))
                    .build(),
            );
        }
        Network::Plain { subnet, groups } => {
            req = req
                .set_subnet_id(subnet.clone())
                .set_security_group_ids(Some(groups.clone()).filter(|g| !g.is_empty()));
        }
    }
    if let Some(p) = &s.placement {
        req = req.placement(
            Placement::builder()
                .set_availability_zone(p.availability_zone.clone())
                .set_tenancy(p.tenancy.as_deref().map(Tenancy::from))
                .set_host_id(p.host_id.clone())
                .set_host_resource_group_arn(p.host_resource_group_arn.clone())
                .build(),
        );
    }
    if let Some(m) = &s.metadata {
        req = req.metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .set_http_endpoint(
                    m.http_endpoint
                        .as_deref()
                        .map(InstanceMetadataEndpointState::from),
                )
                .set_http_tokens(m.http_tokens.as_deref().map(HttpTokensState::from))
                .set_http_put_response_hop_limit(m.hop_limit)
                .set_instance_metadata_tags(
                    m.instance_metadata_tags
                        .as_deref()
                        .map(InstanceMetadataTagsState::from),
                )
                .build(),
        );
    }
    if let Some(c) = s.credits {
        req =
            req.credit_specification(CreditSpecificationRequest::builder().cpu_credits(c).build());
    }
    if s.enclave {
        req = req.enclave_options(EnclaveOptionsRequest::builder().enabled(true).build());
    }
    match &s.capacity {
        Some(CapacitySpec::Preference(p)) => {
            req = req.capacity_reservation_specification(
                CapacityReservationSpecification::builder()
                    .capacity_reservation_preference(CapacityReservationPreference::from(
                        p.as_str(),
                    ))
                    .build(),
            );
        }
        Some(CapacitySpec::Target { id, group_arn }) => {
            req = req.capacity_reservation_specification(
                CapacityReservationSpecification::builder()
                    .capacity_reservation_target(
                        CapacityReservationTarget::builder()
                            .set_capacity_reservation_id(id.clone())
                            .set_capacity_reservation_resource_group_arn(group_arn.clone())
                            .build(),
                    )
                    .build(),
            );
        }
        None => {}
    }
    for arn in &s.licenses {
        req = req.license_specifications(
            LicenseConfigurationRequest::builder()
                .license_configuration_arn(arn)
                .build(),
        );
    }
    req
}

/// The spot launch template's data: the same fields, in the launch template's types. The
/// subnet comes from the fleet's overrides; the instance type too when there are several.
pub fn template_data(
    s: &LaunchSpec,
) -> aws_sdk_ec2::types::builders::RequestLaunchTemplateDataBuilder {
    let mut d = RequestLaunchTemplateData::builder()
        .image_id(&s.image_id)
        .set_instance_type(s.instance_type.as_deref().map(InstanceType::from))
        .ebs_optimized(s.ebs_optimized)
        .set_instance_initiated_shutdown_behavior(
            s.shutdown_behavior.as_deref().map(ShutdownBehavior::from),
        )
        .set_key_name(s.key_name.clone())
        .set_user_data(s.user_data.clone());
    for b in &s.block_devices {
        let ebs = b.ebs().map(|e| {
            LaunchTemplateEbsBlockDeviceRequest::builder()
                .set_delete_on_termination(e.delete_on_termination())
                .set_volume_size(e.volume_size())
                .set_volume_type(e.volume_type().cloned())
                .set_iops(e.iops())
                .set_throughput(e.throughput())
                .set_encrypted(e.encrypted())
                .set_kms_key_id(e.kms_key_id().map(String::from))
                .set_snapshot_id(e.snapshot_id().map(String::from))
                .build()
        });
        d = d.block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .set_device_name(b.device_name().map(String::from))
                .set_virtual_name(b.virtual_name().map(String::from))
                .set_no_device(b.no_device().map(String::from))
                .set_ebs(ebs)
                .build(),
        );
    }
    if let Some(p) = &s.instance_profile {
        d = d.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(p)
                .build(),
        );
    }
    match &s.network {
        Network::Interface {
            public_ip, groups, ..
        } => {
            d = d.network_interfaces(
                LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .device_index(0)
                    .associate_public_ip_address(*public_ip)
                    .delete_on_termination(true)
                    .set_groups(Some(groups.clone()).filter(|g| !g.is_empty()))
                    .build(),
            );
        }
        Network::Plain { groups, .. } => {
            d = d.set_security_group_ids(Some(groups.clone()).filter(|g| !g.is_empty()));
        }
    }
    if let Some(p) = &s.placement {
        d = d.placement(
            LaunchTemplatePlacementRequest::builder()
                .set_availability_zone(p.availability_zone.clone())
                .set_tenancy(p.tenancy.as_deref().map(Tenancy::from))
                .set_host_id(p.host_id.clone())
                .set_host_resource_group_arn(p.host_resource_group_arn.clone())
                .build(),
        );
    }
    if let Some(m) = &s.metadata {
        d = d.metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .set_http_endpoint(
                    m.http_endpoint
                        .as_deref()
                        .map(LaunchTemplateInstanceMetadataEndpointState::from),
                )
                .set_http_tokens(
                    m.http_tokens
                        .as_deref()
                        .map(LaunchTemplateHttpTokensState::from),
                )
                .set_http_put_response_hop_limit(m.hop_limit)
                .set_instance_metadata_tags(
                    m.instance_metadata_tags
                        .as_deref()
                        .map(LaunchTemplateInstanceMetadataTagsState::from),
                )
                .build(),
        );
    }
    if let Some(c) = s.credits {
        d = d.credit_specification(CreditSpecificationRequest::builder().cpu_credits(c).build());
    }
    if s.enclave {
        d = d.enclave_options(
            LaunchTemplateEnclaveOptionsRequest::builder()
                .enabled(true)
                .build(),
        );
    }
    match &s.capacity {
        Some(CapacitySpec::Preference(p)) => {
            d = d.capacity_reservation_specification(
                LaunchTemplateCapacityReservationSpecificationRequest::builder()
                    .capacity_reservation_preference(CapacityReservationPreference::from(
                        p.as_str(),
                    ))
                    .build(),
            );
        }
        Some(CapacitySpec::Target { id, group_arn }) => {
            d = d.capacity_reservation_specification(
                LaunchTemplateCapacityReservationSpecificationRequest::builder()
                    .capacity_reservation_target(
                        CapacityReservationTarget::builder()
                            .set_capacity_reservation_id(id.clone())
                            .set_capacity_reservation_resource_group_arn(group_arn.clone())
                            .build(),
                    )
                    .build(),
            );
        }
        None => {}
    }
    for arn in &s.licenses {
        d = d.license_specifications(
            LaunchTemplateLicenseConfigurationRequest::builder()
                .license_configuration_arn(arn)
                .build(),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ebs::{BlockDevice, MetadataOptions};

    fn options() -> AmazonEbs {
        AmazonEbs {
            instance_type: Some("t3.micro".into()),
            associate_public_ip_address: Some(true),
            availability_zone: Some("us-east-1a".into()),
            metadata_options: Some(MetadataOptions {
                http_tokens: Some("required".into()),
                http_put_response_hop_limit: Some(2),
                ..Default::default()
            }),
            launch_block_device_mappings: vec![BlockDevice {
                device_name: Some("/dev/xvda".into()),
                volume_size: Some(20),
                volume_type: Some("gp3".into()),
                delete_on_termination: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn state() -> BuildState {
        BuildState {
            subnet_id: Some("subnet-1".into()),
            security_group_ids: vec!["sg-1".into()],
            ..Default::default()
        }
    }

    #[test]
    fn spot_and_on_demand_launch_the_same_way() {
        let c = options();
        let on_demand = decide(&c, &state(), "ami-1", None, false);
        let spot = decide(&c, &state(), "ami-1", None, true);
        assert_eq!(
            on_demand.shutdown_behavior.as_deref(),
            Some("stop"),
            "Packer's default on demand"
        );
        assert_eq!(
            spot.shutdown_behavior, None,
            "as Packer: not sent for spot unless written"
        );
        assert_eq!(
            LaunchSpec {
                shutdown_behavior: None,
                ..on_demand.clone()
            },
            spot,
            "everything else is the same"
        );
        assert_eq!(spot.credits, Some("standard"));
        assert_eq!(
            spot.network,
            Network::Interface {
                subnet: "subnet-1".into(),
                public_ip: true,
                groups: vec!["sg-1".into()]
            }
        );
        assert_eq!(
            spot.metadata
                .as_ref()
                .and_then(|m| m.http_tokens.as_deref()),
            Some("required"),
            "IMDSv2-only holds for spot too"
        );
        let data = template_data(&spot).build();
        assert_eq!(data.block_device_mappings().len(), 1);
        assert_eq!(
            data.metadata_options().and_then(|m| m.http_tokens()),
            Some(&LaunchTemplateHttpTokensState::Required)
        );
        assert_eq!(
            data.placement().and_then(|p| p.availability_zone()),
            Some("us-east-1a")
        );
        assert_eq!(
            data.network_interfaces()[0].associate_public_ip_address(),
            Some(true)
        );
    }

    #[test]
    fn several_spot_types_leave_the_type_to_the_fleet() {
        let c = AmazonEbs {
            spot_instance_types: vec!["t3.small".into(), "m5.large".into()],
            enable_unlimited_credits: true,
            ..Default::default()
        };
        let s = decide(&c, &BuildState::default(), "ami-1", None, true);
        assert_eq!(s.instance_type, None);
        assert_eq!(s.credits, Some("unlimited"));
        assert_eq!(
            s.network,
            Network::Plain {
                subnet: None,
                groups: vec![]
            }
        );
    }
}
