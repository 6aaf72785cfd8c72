//! `ambake transfer` (hidden): one upload or download through ambake's SSH communicator, for
//! the transfer benchmark and for checking SSH access to a host by hand.

use crate::cli::TransferArgs;
use crate::comm::connect::Auth;
use crate::comm::ssh::Transfer;
use crate::comm::{self, SshConfig};
use crate::exit::Exit;
use crate::ui::{Ui, UiOptions};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub fn run(a: &TransferArgs) -> anyhow::Result<Exit> {
    let key = std::fs::read_to_string(&a.key)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.key))?;
    let cfg = SshConfig {
        host: a.host.clone(),
        port: a.port,
        user: a.user.clone(),
        auth: Auth::Key(key),
        timeout: Duration::from_secs(30),
        handshake_attempts: 3,
        keep_alive: Some(Duration::from_secs(5)),
        rw_timeout: None,
        pty: false,
        transfer: if a.sftp {
            Transfer::Sftp
        } else {
            Transfer::Scp
        },
        first_retry: Duration::from_secs(1),
        bastion: None,
        host_key: Default::default(),
        ciphers: a.ciphers.clone(),
        kex: vec![],
        proxy: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ui = Ui::new("transfer", UiOptions::default(), vec![]);
        let ssh = comm::connect(&cfg, &CancellationToken::new(), &ui).await?;
        let started = Instant::now();
        let (src, dst, upload) = (a.src.clone(), a.dst.clone(), a.direction == "upload");
        let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            if upload {
                let mut f = std::fs::File::open(&src)?;
                let len = f.metadata()?.len();
                ssh.upload_blocking(&mut f, len, &dst, 0o644)?;
                Ok(len)
            } else {
                let mut f = std::fs::File::create(&dst)?;
                ssh.download_blocking(&src, &mut f)?;
                Ok(f.metadata()?.len())
            }
        })
        .await??;
        let secs = started.elapsed().as_secs_f64();
        crate::output::line(&format!(
            "{} {bytes} bytes in {secs:.3} s ({:.1} MiB/s)",
            a.direction,
            bytes as f64 / secs / 1048576.0
        ));
        anyhow::Ok(Exit::Ok)
    })
}
