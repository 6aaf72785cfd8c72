# Sourced by scripts/test and scripts/demo: installs what they need on a fresh Debian machine.
# apt: libssl-dev + pkg-config (ssh2), openssh-server (the stand-in instance), iproute2 and
# util-linux (network namespaces); PyPI: moto_server into .venv (the AWS emulator) and
# ansible-core (the ansible provisioner's tests).
ambake_install_deps() {
  local need_apt=()
  dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
  dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
  [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)
  command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
  command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing ${need_apt[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      # Keep apt from starting a system sshd on port 22.
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
      echo "please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
      return 1
    fi
  fi
  if ! .venv/bin/python -c 'import moto.server, flask_cors' 2>/dev/null; then
    # Judged by whether moto imports, not by pip's exit or a file being there: a half-made
    # .venv (an interrupted install) is rebuilt, and a line pip prints about a cache or a
    # leftover file is shown only when the install really failed. One retry for a flaky
    # download.
    echo "installing moto_server into .venv (once; about a minute)" >&2
    local log
    log=$(mktemp)
    rm -rf .venv
    python3 -m venv .venv
    local pip=(.venv/bin/pip install --disable-pip-version-check --no-input -q
      'moto[ec2,iam,sts,kms,ssm]==5.2.*' flask flask-cors)
    "${pip[@]}" >"$log" 2>&1 || "${pip[@]}" >>"$log" 2>&1 || true
    if ! .venv/bin/python -c 'import moto.server, flask_cors' 2>/dev/null; then
      cat "$log" >&2
      echo "installing moto into .venv failed (pip's output above)" >&2
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
  fi
  # ansible-core for the ansible provisioner tests (ansible-playbook runs on this machine
  # against the local sshd); ssh is its transport.
  if ! .venv/bin/python -c 'import ansible' 2>/dev/null; then
    echo "installing ansible-core into .venv" >&2
    .venv/bin/pip install --disable-pip-version-check --no-input -q 'ansible-core==2.17.*' >/dev/null 2>&1 ||
      .venv/bin/pip install --disable-pip-version-check --no-input -q 'ansible-core==2.17.*' || return 1
  fi
  # The same for the stand-in instance's own user (ansible-local runs ansible-playbook there as
  # ec2-user, who may not be able to read .venv): a copy any user can import, for the system
  # python3. Root only, as the SSH tests are.
  local inst=/usr/local/lib/ambake-test/ansible
  if [ "$(id -u)" = 0 ] && [ ! -d "$inst/ansible" ]; then
    .venv/bin/pip install --disable-pip-version-check --no-input -q --target "$inst" \
      'ansible-core==2.17.*' >/dev/null 2>&1 || return 1
    chmod -R a+rX /usr/local/lib/ambake-test
  fi
  if [ ! -d "${CARGO_TARGET_DIR:-target}/debug" ]; then
    echo "compiling ambake and the AWS SDK (first time: about 6 minutes on 2 cores; later builds take seconds)" >&2
  fi
}
