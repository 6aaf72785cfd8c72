//! The decisions a build's options add up to, made once (ripgrep's LowArgs → HiArgs): spot or
//! on-demand, which SSH key, what the image steps produce. Validation, the steps and the IAM
//! policy read these instead of re-deriving them from the raw options, so they cannot drift
//! apart. Pure functions of [`AmazonEbs`], unit-tested without AWS.

use super::ebs::AmazonEbs;

/// Everything decided for one build.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub communicator: Communicator,
    /// `ssh_interface = "session_manager"`: SSH goes through an SSM port-forwarding session
    /// (and the temporary security group opens no port).
    pub session_manager: bool,
    pub launch: Launch,
    pub key: KeySource,
    pub image: ImageOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Communicator {
    Ssh,
    None,
}

/// How the build instance is launched.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// RunInstances with `instance_type`.
    OnDemand,
    /// A launch template and an instant fleet (`spot_price` set and not "0").
    Spot {
        /// `None`: "auto", the on-demand price caps the bid.
        max_price: Option<String>,
        /// `spot_instance_types`, or the one `instance_type`.
        instance_types: Vec<String>,
    },
}

impl Launch {
    pub fn is_spot(&self) -> bool {
        matches!(self, Launch::Spot { .. })
    }
}

/// The SSH key the build logs in with, and the key pair the instance gets.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// communicator = "none": nothing to log in with (a named key pair still goes on).
    None { key_pair: Option<String> },
    /// `ssh_agent_auth`: the agent's keys; a named key pair still goes on the instance.
    Agent { key_pair: Option<String> },
    /// `ssh_password` without a key file: no key of ours (a named key pair still goes on).
    Password { key_pair: Option<String> },
    /// `ssh_private_key_file`, with the key pair `ssh_keypair_name` on the instance if named.
    File {
        path: String,
        key_pair: Option<String>,
    },
    /// A temporary key pair ambake creates (and deletes).
    Temporary {
        /// `temporary_key_pair_name`, else `ambake_<build id>`.
        name: Option<String>,
        /// "rsa" or "ed25519".
        kind: String,
    },
}

impl KeySource {
    pub fn is_temporary(&self) -> bool {
        matches!(self, KeySource::Temporary { .. })
    }
}

/// What the image steps make.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageOutput {
    /// `skip_create_ami` = false.
    pub create: bool,
    /// The AMI made from the instance is temporary: `encrypt_boot` (the product is its
    /// encrypted copy) or `skip_save_build_region` (it only feeds the copies).
    pub intermediary: bool,
    /// `encrypt_boot = true`.
    pub encrypt: bool,
    /// The build region keeps an AMI (not `skip_save_build_region`).
    pub keep_build_region: bool,
    /// `kms_key_id`: the key of the build region's encrypted AMI.
    pub kms_key_id: Option<String>,
    /// `region_kms_key_ids`, for the build region when `kms_key_id` is not set (the build
    /// region may come from the environment, so it is looked up at run time).
    pub region_kms_key_ids: std::collections::BTreeMap<String, String>,
    /// The copies to other regions, each with its KMS key (`region_kms_key_ids`).
    pub copies: Vec<Copy>,
    /// ami_users / ami_groups / ami_org_arns / ami_ou_arns: launch permissions to add.
    pub share_launch: bool,
    /// snapshot_users / snapshot_groups: create-volume permissions to add.
    pub share_snapshots: bool,
    /// `deprecate_at`: every AMI of the build is deprecated at this time.
    pub deprecate_at: Option<jiff::Timestamp>,
    /// `deregistration_protection`: `Some(with_cooldown)` when every AMI is protected.
    /// `with_cooldown` alone turns it on, as in Packer.
    pub protect: Option<bool>,
}

impl ImageOutput {
    /// The KMS key of the build region's encrypted AMI: `kms_key_id`, else the region's entry
    /// in `region_kms_key_ids`; `None` is the account's default key.
    pub fn kms_for_build_region(&self, region: &str) -> Option<String> {
        self.kms_key_id.clone().or_else(|| {
            self.region_kms_key_ids
                .get(region)
                .filter(|k| !k.is_empty())
                .cloned()
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    pub region: String,
    pub kms_key_id: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|v| !v.is_empty())
}

impl Decided {
    pub fn from_options(c: &AmazonEbs) -> Decided {
        let communicator = if c.communicator() == "none" {
            Communicator::None
        } else {
            Communicator::Ssh
        };
        let launch = match c.spot_price.as_deref() {
            Some(p) if !p.is_empty() && p != "0" => Launch::Spot {
                max_price: (p != "auto").then(|| p.to_string()),
                instance_types: if c.spot_instance_types.is_empty() {
                    c.instance_type.iter().cloned().collect()
                } else {
                    c.spot_instance_types.clone()
                },
            },
            _ => Launch::OnDemand,
        };
        let key = if communicator == Communicator::None {
            KeySource::None {
                key_pair: c.ssh_keypair_name.clone(),
            }
        } else if c.ssh_agent_auth {
            KeySource::Agent {
                key_pair: c.ssh_keypair_name.clone(),
            }
        } else if let Some(path) = &c.ssh_private_key_file {
            KeySource::File {
                path: path.clone(),
                key_pair: c.ssh_keypair_name.clone(),
            }
        } else if c.ssh_password.is_some() {
            KeySource::Password {
                key_pair: c.ssh_keypair_name.clone(),
            }
        } else {
            KeySource::Temporary {
                name: c.temporary_key_pair_name.clone(),
                kind: c
                    .temporary_key_pair_type
                    .clone()
                    .unwrap_or_else(|| "rsa".into()),
            }
        };
        let encrypt = c.encrypt_boot == Some(true);
        let image = ImageOutput {
            create: !c.skip_create_ami,
            intermediary: encrypt || c.skip_save_build_region,
            encrypt,
            keep_build_region: !c.skip_save_build_region,
            kms_key_id: non_empty(&c.kms_key_id),
            region_kms_key_ids: c.region_kms_key_ids.clone(),
            copies: c
                .copy_regions()
                .into_iter()
                .map(|r| Copy {
                    kms_key_id: non_empty(&c.region_kms_key_ids.get(&r).cloned()),
                    region: r,
                })
                .collect(),
            share_launch: !(c.ami_users.is_empty()
                && c.ami_groups.is_empty()
                && c.ami_org_arns.is_empty()
                && c.ami_ou_arns.is_empty()),
            share_snapshots: !(c.snapshot_users.is_empty() && c.snapshot_groups.is_empty()),
            deprecate_at: c.deprecate_at.as_deref().and_then(|t| t.parse().ok()),
            protect: c
                .deregistration_protection
                .as_ref()
                .filter(|p| p.enabled || p.with_cooldown)
                .map(|p| p.with_cooldown),
        };
        Decided {
            session_manager: communicator == Communicator::Ssh
                && c.ssh_interface.as_deref() == Some("session_manager"),
            communicator,
            launch,
            key,
            image,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(f: impl FnOnce(&mut AmazonEbs)) -> Decided {
        let mut c = AmazonEbs {
            region: Some("us-east-1".into()),
            instance_type: Some("t3.micro".into()),
            ..Default::default()
        };
        f(&mut c);
        Decided::from_options(&c)
    }

    #[test]
    fn spot_only_with_a_price_that_is_not_zero() {
        assert_eq!(opts(|_| {}).launch, Launch::OnDemand);
        assert_eq!(
            opts(|c| c.spot_price = Some("0".into())).launch,
            Launch::OnDemand
        );
        assert_eq!(
            opts(|c| c.spot_price = Some("auto".into())).launch,
            Launch::Spot {
                max_price: None,
                instance_types: vec!["t3.micro".into()]
            }
        );
        assert_eq!(
            opts(|c| {
                c.spot_price = Some("0.05".into());
                c.instance_type = None;
                c.spot_instance_types = vec!["t3.small".into(), "t3a.small".into()];
            })
            .launch,
            Launch::Spot {
                max_price: Some("0.05".into()),
                instance_types: vec!["t3.small".into(), "t3a.small".into()]
            }
        );
    }

    #[test]
    fn key_source_follows_packers_precedence() {
        assert!(opts(|_| {}).key.is_temporary());
        assert_eq!(
            opts(|c| c.communicator = Some("none".into())).key,
            KeySource::None { key_pair: None }
        );
        assert_eq!(
            opts(|c| {
                c.ssh_agent_auth = true;
                c.ssh_keypair_name = Some("k".into());
            })
            .key,
            KeySource::Agent {
                key_pair: Some("k".into())
            }
        );
        assert_eq!(
            opts(|c| c.ssh_password = Some("p".into())).key,
            KeySource::Password { key_pair: None }
        );
        assert_eq!(
            opts(|c| {
                c.ssh_password = Some("p".into());
                c.ssh_private_key_file = Some("f".into());
            })
            .key,
            KeySource::File {
                path: "f".into(),
                key_pair: None
            },
            "a key file wins over a password"
        );
        assert_eq!(
            opts(|c| c.temporary_key_pair_type = Some("ed25519".into())).key,
            KeySource::Temporary {
                name: None,
                kind: "ed25519".into()
            }
        );
    }

    #[test]
    fn image_output_intermediary_keys_and_copies() {
        let d = opts(|c| {
            c.encrypt_boot = Some(true);
            c.ami_regions = vec!["us-east-1".into(), "eu-west-1".into(), "eu-west-1".into()];
            c.region_kms_key_ids = [
                ("us-east-1".to_string(), "k1".to_string()),
                ("eu-west-1".to_string(), "k2".to_string()),
            ]
            .into();
        })
        .image;
        assert!(d.intermediary && d.encrypt && d.keep_build_region);
        assert_eq!(d.kms_for_build_region("us-east-1").as_deref(), Some("k1"));
        assert_eq!(
            d.copies,
            vec![Copy {
                region: "eu-west-1".into(),
                kms_key_id: Some("k2".into())
            }]
        );
        let d = opts(|c| c.skip_save_build_region = true).image;
        assert!(d.intermediary && !d.encrypt && !d.keep_build_region);
        assert!(!opts(|_| {}).image.intermediary);
        assert!(
            opts(|c| c.ami_groups = vec!["all".into()])
                .image
                .share_launch
        );
        assert!(
            opts(|c| c.snapshot_users = vec!["1".into()])
                .image
                .share_snapshots
        );
    }
}
