//! `ambake whoami`: which credentials, which account, which region, is the clock right.
//! Exit 0 when the credentials work, 1 when they do not, so scripts can gate on it.

use crate::aws::access::AccessOptions;
use crate::aws::clients::{self, Session};
use crate::aws::clock::skew_warning;
use crate::aws::errors::{self, Class};
use crate::cli::WhoamiArgs;
use crate::config::{self, PlanOptions};
use crate::diag::Diagnostics;
use crate::exit::Exit;
use serde_json::{Value as J, json};

/// The result for one identity, ready to print as text or JSON.
struct Report {
    json: J,
    text: String,
    ok: bool,
}

fn mask_key(k: &str) -> String {
    if k.len() > 8 {
        format!("{}…{}", &k[..4], &k[k.len() - 4..])
    } else {
        "…".to_string()
    }
}

async fn check(o: &AccessOptions) -> Report {
    let s: Session = match clients::session(o).await {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("{e:#}");
            return Report {
                json: json!({"ok": false, "error": msg}),
                text: format!("Error: {msg}\n"),
                ok: false,
            };
        }
    };
    let expires = s.base.expiry().map(|t| {
        jiff::Timestamp::try_from(t)
            .map(|t| t.to_string())
            .unwrap_or_default()
    });
    let mut j = json!({
        "ok": false,
        "credentials": { "source": s.source.key(), "description": s.source.to_string(), "access_key_id": mask_key(s.base.access_key_id()) },
        "region": s.region, "region_origin": s.region_origin.to_string(),
        "endpoint": s.endpoint,
        "assumed_role": s.assumed_role,
        "expires": expires,
    });
    let mut text = format!(
        "Credentials: {} (access key {})\n",
        s.source,
        mask_key(s.base.access_key_id())
    );
    if let Some(r) = &s.assumed_role {
        text.push_str(&format!("Assumed role: {r}\n"));
    }
    text.push_str(&format!(
        "Region:      {} (from {})\n",
        s.region, s.region_origin
    ));
    if let Some(ep) = &s.endpoint {
        text.push_str(&format!("Endpoint:    {ep}\n"));
    }
    match s.sts().get_caller_identity().send().await {
        Ok(id) => {
            let account = id.account().unwrap_or_default();
            let arn = id.arn().unwrap_or_default();
            j["ok"] = J::Bool(true);
            j["account"] = json!(account);
            j["arn"] = json!(arn);
            j["user_id"] = json!(id.user_id().unwrap_or_default());
            text.push_str(&format!(
                "Account:     {account}\nARN:         {arn}\nUser ID:     {}\n",
                id.user_id().unwrap_or_default()
            ));
            if arn.contains(":assumed-role/") {
                let session = arn.rsplit('/').next().unwrap_or_default();
                j["session"] = json!(session);
                text.push_str(&format!("Session:     {session}\n"));
            }
            text.push_str(&format!(
                "Expires:     {}\n",
                j["expires"].as_str().unwrap_or("never (long-term keys)")
            ));
            match s.clock.skew_seconds() {
                Some(skew) => {
                    j["clock_skew_seconds"] = json!(skew);
                    match skew_warning(skew) {
                        Some(w) => {
                            j["clock_warning"] = json!(w);
                            text.push_str(&format!("Warning: {w}\n"));
                        }
                        None => {
                            text.push_str(&format!("Clock:       in sync with AWS ({skew:+}s)\n"))
                        }
                    }
                }
                None => {
                    text.push_str("Clock:       not checked (no Date header in AWS's answer)\n")
                }
            }
            Report {
                json: j,
                text,
                ok: true,
            }
        }
        Err(e) => {
            let msg = errors::explain(&e);
            let class = errors::code(&e).map(|c| errors::classify(&c));
            let mut msg = format!("sts:GetCallerIdentity failed: {msg}");
            // A rejected signature with a skewed clock is the clock's fault: say so.
            if let (Some(Class::BadCredentials | Class::ClockSkew), Some(w)) =
                (class, s.clock.skew_seconds().and_then(skew_warning))
            {
                msg.push_str(&format!("; {w}"));
            }
            j["error"] = json!(msg);
            text.push_str(&format!("Error: {msg}\n"));
            Report {
                json: j,
                text,
                ok: false,
            }
        }
    }
}

pub fn run(a: &WhoamiArgs) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let overrides = |mut o: AccessOptions| {
        if a.profile.is_some() {
            o.profile = a.profile.clone();
        }
        if a.region.is_some() {
            o.region = a.region.clone();
        }
        o
    };
    let (json, text, ok, secrets) = match &a.template {
        None => {
            let o = overrides(AccessOptions::default());
            let r = rt.block_on(check(&o));
            (r.json, r.text, r.ok, o.secrets())
        }
        Some(t) => {
            let mut diags = Diagnostics::default();
            let cfg = super::load(t, &a.vars, &mut diags)?;
            let plans = if diags.has_errors() {
                vec![]
            } else {
                config::plan(&cfg, &PlanOptions::default(), &mut diags)
            };
            super::report(&diags, &cfg.map, &config::secrets(&cfg, &plans));
            if diags.has_errors() {
                return Ok(Exit::Failed);
            }
            let mut all_ok = true;
            let mut builds = serde_json::Map::new();
            let mut text = String::new();
            let mut secrets = config::secrets(&cfg, &plans);
            for p in &plans {
                let o = overrides(AccessOptions::from(&p.config));
                secrets.extend(o.secrets());
                let r = rt.block_on(check(&o));
                all_ok &= r.ok;
                text.push_str(&format!("==> {}:\n{}\n", p.name, r.text));
                builds.insert(p.name.clone(), r.json);
            }
            (json!({ "builds": builds }), text, all_ok, secrets)
        }
    };
    let out = if a.json {
        serde_json::to_string_pretty(&json)?
    } else {
        text.trim_end().to_string()
    };
    let out = crate::output::mask(&out, &secrets);
    if ok || a.json {
        crate::output::line(&out);
    } else {
        eprintln!("{out}");
    }
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}
