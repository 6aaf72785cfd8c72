//! `ssh_interface = "session_manager"`: SSH through an SSM port-forwarding session, as Packer
//! does it — ssm:StartSession with the AWS-StartPortForwardingSession document, then AWS's
//! `session-manager-plugin` (which must be on PATH) holding a local port open to the
//! instance's SSH port. The session is started again when the plugin exits (a reboot ends
//! it) and terminated when the tunnel closes.

use crate::cancel::Interrupted;
use crate::ui::Ui;
use aws_sdk_ssm::Client;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const PLUGIN: &str = "session-manager-plugin";
const DOCUMENT: &str = "AWS-StartPortForwardingSession";

/// Where the plugin is, or an error that says how to get it.
pub fn plugin() -> anyhow::Result<std::path::PathBuf> {
    which::which(PLUGIN).map_err(|_| {
        anyhow::anyhow!(
            "ssh_interface = \"session_manager\" needs AWS's {PLUGIN} on PATH, and it was not found; install it: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"
        )
    })
}

/// An open tunnel: SSH connects to 127.0.0.1:`port`.
pub struct Tunnel {
    pub port: u16,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct Target {
    ssm: Client,
    region: String,
    instance: String,
    remote_port: u16,
    local_port: u16,
}

impl Target {
    /// ssm:StartSession, retried while the instance's agent has not registered yet
    /// (TargetNotConnected), as Packer does. Returns the session id and the plugin's argv.
    async fn start(&self, cancel: &CancellationToken) -> anyhow::Result<(String, Vec<String>)> {
        let params = serde_json::json!({
            "portNumber": [self.remote_port.to_string()],
            "localPortNumber": [self.local_port.to_string()],
        });
        let mut delay = Duration::from_millis(200);
        let out = loop {
            let mut req = self
                .ssm
                .start_session()
                .target(&self.instance)
                .document_name(DOCUMENT);
            for (k, v) in params.as_object().into_iter().flatten() {
                let vals: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect();
                req = req.parameters(k, vals);
            }
            match req.send().await {
                Ok(o) => break o,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_target_not_connected()) =>
                {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => return Err(Interrupted.into()),
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => {
                    return Err(crate::aws::errors::aws_err(
                        "ssm:StartSession",
                        &self.region,
                        e,
                    ));
                }
            }
        };
        let id = out.session_id().unwrap_or_default().to_string();
        let session = serde_json::json!({
            "SessionId": id,
            "StreamUrl": out.stream_url(),
            "TokenValue": out.token_value(),
        });
        let input = serde_json::json!({
            "Target": self.instance,
            "DocumentName": DOCUMENT,
            "Parameters": params,
        });
        // The plugin's arguments, in the order it requires.
        let argv = vec![
            session.to_string(),
            self.region.clone(),
            "StartSession".into(),
            String::new(),
            input.to_string(),
            out.stream_url().unwrap_or_default().to_string(),
        ];
        Ok((id, argv))
    }

    async fn terminate(&self, id: &str, ui: &Ui) {
        if let Err(e) = self.ssm.terminate_session().session_id(id).send().await {
            ui.error(&format!(
                "Error terminating SSM Session {id:?}, this does not affect the built AMI. Please terminate the session manually: {:#}",
                crate::aws::errors::aws_err("ssm:TerminateSession", &self.region, e)
            ));
        }
    }
}

/// Starts the session and the plugin; the SSH connection's own retries wait for the port.
pub async fn open(
    ssm: Client,
    region: &str,
    instance: &str,
    remote_port: u16,
    local_port: Option<u16>,
    ui: &Ui,
    cancel: &CancellationToken,
) -> anyhow::Result<Tunnel> {
    let plugin = plugin()?;
    let local_port = match local_port.filter(|p| *p != 0) {
        Some(p) => p,
        // A free port now; the plugin binds it a moment later.
        None => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
    };
    let target = Target {
        ssm,
        region: region.to_string(),
        instance: instance.to_string(),
        remote_port,
        local_port,
    };
    let first = target.start(cancel).await?;
    let stop = cancel.child_token();
    let (ui, token) = (ui.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut next = Some(first);
        loop {
            let (id, argv) = match next.take() {
                Some(s) => s,
                None => match target.start(&token).await {
                    Ok(s) => s,
                    Err(e) => {
                        if !token.is_cancelled() {
                            ui.error(&format!("ssm error: {e:#}"));
                        }
                        return;
                    }
                },
            };
            ui.message(&format!("Starting portForwarding session {id:?}."));
            let mut cmd = tokio::process::Command::new(&plugin);
            cmd.args(&argv)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true);
            match cmd.spawn() {
                Err(e) => {
                    ui.error(&format!("cannot run {}: {e}", plugin.display()));
                    target.terminate(&id, &ui).await;
                    return;
                }
                Ok(mut child) => {
                    let lines = pump(&mut child, &ui);
                    tokio::select! {
                        _ = async { tokio::join!(child.wait(), lines) } => {}
                        _ = token.cancelled() => { let _ = child.kill().await; }
                    }
                }
            }
            target.terminate(&id, &ui).await;
            if token.is_cancelled() {
                return;
            }
            // The session ended under a running build (a reboot): open another.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = token.cancelled() => return,
            }
        }
    });
    Ok(Tunnel {
        port: local_port,
        stop,
        task: Some(task),
    })
}

/// The plugin's output, each line a message.
fn pump(
    child: &mut tokio::process::Child,
    ui: &Ui,
) -> impl std::future::Future<Output = ()> + use<> {
    use tokio::io::AsyncBufReadExt as _;
    let out = child
        .stdout
        .take()
        .map(|o| tokio::io::BufReader::new(o).lines());
    let err = child
        .stderr
        .take()
        .map(|e| tokio::io::BufReader::new(e).lines());
    let ui = ui.clone();
    async move {
        tokio::join!(forward(out, ui.clone()), forward(err, ui));
    }
}

async fn forward<R: tokio::io::AsyncBufRead + Unpin>(lines: Option<tokio::io::Lines<R>>, ui: Ui) {
    if let Some(mut l) = lines {
        while let Ok(Some(line)) = l.next_line().await {
            ui.message(&line);
        }
    }
}

impl Tunnel {
    /// Stops the plugin and terminates the session (waits a little for the call).
    pub async fn close(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        // An early return: the task still terminates the session on its own.
        self.stop.cancel();
    }
}
