# Sourced by scripts/test and scripts/demo: installs what they need on a fresh Debian machine.
# apt: libssl-dev + pkg-config (ssh2), openssh-server (the stand-in instance), iproute2 and
# util-linux (network namespaces); PyPI: moto_server into .venv (the AWS emulator).
ambake_install_deps() {
  local need_apt=()
  dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
  dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
  [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
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
  if [ ! -x .venv/bin/moto_server ]; then
    echo "installing moto_server into .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q 'moto[ec2,iam,sts,kms,ssm]==5.2.*' flask flask-cors
  fi
}
