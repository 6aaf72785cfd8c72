#!/usr/bin/env python3
"""ambake against Packer (Debian's packer 1.6.6, amazon-ebs built in) in one run, on loopback:
moto_server plays AWS behind tests/support/aws_proxy.py (which counts calls by action and, for
the slow runs, makes state changes take real seconds), a private OpenSSH sshd plays the
instance. Both tools get the same templates and are run alternately. Prints one table of
medians, spreads (min-max) and ratios, plus the goals of issue #14 and whether each is met.

Usage (as root: the sshd logs in a local ec2-user; nothing leaves 127.0.0.1):
    bench/compare.py [--runs N] [--binary PATH] [--skip-slow] [--skip-parallel]
bench/run installs what is missing (packer, hyperfine-free: timing is done here) and calls this.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(REPO, ".venv", "bin", "python")
# The small validate takes a few ms, where one ms of noise is 20 % of ambake's time: four times
# the runs, in rounds alternated between the tools, so a change in the machine's speed during
# the run reaches both alike.
SMALL_ROUNDS = 4
REGION, COPY, THIRD = "us-east-1", "us-west-2", "eu-west-1"
KEY_ID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not start on port {port}")


class Stack:
    """moto, the proxy and sshd, started once for the whole run."""

    def __init__(self, work, slow=None):
        self.work = work
        self.procs = []
        self.moto_port = free_port()
        self.procs.append(subprocess.Popen(
            [PY, os.path.join(REPO, "tests/support/moto_server.py"), "-p", str(self.moto_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(self.moto_port, "moto_server")
        self.logdir = tempfile.mkdtemp(dir=work)
        port_file = os.path.join(self.logdir, "proxy.port")
        cmd = [PY, os.path.join(REPO, "tests/support/aws_proxy.py"), port_file,
               str(self.moto_port), "--dir", self.logdir]
        if slow:
            cmd += ["--slow-seconds", slow]
        self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        end = time.time() + 20
        while not os.path.exists(port_file) and time.time() < end:
            time.sleep(0.05)
        self.endpoint = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def calls(self):
        path = os.path.join(self.logdir, "proxy.log")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def busy_seconds(self, first_seq, start, end):
        """How long, between `start` and `end` (time.monotonic()), at least one call numbered
        above `first_seq` was being answered: the emulator's (and the proxy's) share of a run."""
        path = os.path.join(self.logdir, "timing.log")
        spans = []
        for line in (open(path).read().splitlines() if os.path.exists(path) else []):
            n, a, b = line.split()
            if int(n) > first_seq:
                spans.append((max(float(a), start), min(float(b), end)))
        busy, reach = 0.0, start
        for a, b in sorted(spans):
            if b > reach:
                busy += b - max(a, reach)
                reach = b
        return busy

    def slow_log(self):
        path = os.path.join(self.logdir, "slow.log")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def stop(self):
        dropped = os.path.join(self.logdir, "upstream-errors.log")
        if os.path.exists(dropped):
            n = len(open(dropped).read().splitlines())
            print(f"note: moto dropped {n} call(s); the proxy answered InternalError ({dropped})", file=sys.stderr)
        for p in self.procs:
            p.terminate()
            p.wait()


def start_sshd(work):
    """A private sshd on loopback that lets ec2-user in with the bench key."""
    subprocess.run("id ec2-user >/dev/null 2>&1 || useradd -m -s /bin/bash ec2-user; "
                   "usermod -p '*' ec2-user; mkdir -p /run/sshd", shell=True, check=True)
    d = tempfile.mkdtemp(dir=work)
    os.chmod(d, 0o755)
    for name in ("host", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/{name}"], check=True)
    shutil.copy(f"{d}/id.pub", f"{d}/authorized_keys")
    os.chmod(f"{d}/authorized_keys", 0o644)
    port = free_port()
    with open(f"{d}/sshd_config", "w") as f:
        f.write(f"ListenAddress 127.0.0.1:{port}\nHostKey {d}/host\nPidFile {d}/sshd.pid\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n"
                f"AllowUsers ec2-user\nMaxStartups 100\nMaxSessions 100\n"
                f"Subsystem sftp /usr/lib/openssh/sftp-server\n")
    p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{d}/sshd_config"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "sshd")
    return p, port, f"{d}/id", open(f"{d}/id.pub").read().strip()


def import_key(endpoint, pub):
    """The key pair both tools use (ssh_keypair_name), in every region of the bench."""
    code = (
        "import boto3,sys\n"
        "for r in sys.argv[3:]:\n"
        "    boto3.client('ec2', region_name=r, endpoint_url=sys.argv[1], aws_access_key_id='k',"
        " aws_secret_access_key='s').import_key_pair(KeyName='bench', PublicKeyMaterial=sys.argv[2].encode())\n")
    subprocess.run([PY, "-c", code, endpoint, pub, REGION, COPY, THIRD], check=True)


def source(name, endpoint, ssh_port, key, regions, run_id):
    return f'''
source "amazon-ebs" "{name}" {{
  region                     = "{REGION}"
  custom_endpoint_ec2        = "{endpoint}"
  access_key                 = "{KEY_ID}"
  secret_key                 = "{SECRET}"
  skip_credential_validation = true
  skip_metadata_api_check    = true
  skip_region_validation     = true
  source_ami                 = "ami-760aaa0f"
  instance_type              = "t2.micro"
  ssh_username               = "ec2-user"
  ssh_host                   = "127.0.0.1"
  ssh_port                   = {ssh_port}
  ssh_keypair_name           = "bench"
  ssh_private_key_file       = "{key}"
  ami_name                   = "bench-{run_id}-{name}"
  ami_regions                = {json.dumps(regions)}
  ami_users                  = ["111122223333"]
  tags                       = {{ Name = "bench-{name}", Tool = var.tool }}
  snapshot_tags              = {{ Snap = "yes" }}
  run_tags                   = {{ Purpose = "bench" }}
}}
'''


def build_template(path, endpoint, ssh_port, key, run_id, sources=1, regions=(COPY,)):
    names = [f"s{i}" for i in range(sources)]
    body = 'variable "tool" {\n  type = string\n}\n'
    body += "".join(source(n, endpoint, ssh_port, key, list(regions), run_id) for n in names)
    refs = ", ".join(f'"source.amazon-ebs.{n}"' for n in names)
    body += f'''
build {{
  sources = [{refs}]
  provisioner "shell" {{
    inline = ["echo hello from $PACKER_BUILD_NAME > /tmp/ambake-bench-$PACKER_BUILD_NAME"]
  }}
}}
'''
    with open(path, "w") as f:
        f.write(body)


def large_template(path):
    """Many variables, locals and functions, 16 sources (validate only; Packer 1.6.6 syntax)."""
    out = []
    for i in range(40):
        out.append(f'variable "v{i}" {{\n  type    = string\n  default = "value-{i}"\n}}\n')
    out.append('variable "extra" {\n  type    = map(string)\n  default = { a = "1", b = "2" }\n}\n')
    out.append("locals {\n")
    for i in range(40):
        out.append(f'  l{i} = lower(join("-", [var.v{i}, "x", upper(var.v{(i + 1) % 40})]))\n')
    out.append('  tags = merge(var.extra, { Built = formatdate("YYYY-MM-DD", timestamp()) })\n')
    out.append('  name = regex_replace("bench ${timestamp()}", "[^a-zA-Z0-9-]", "-")\n}\n')
    for i in range(16):
        out.append(f'''
source "amazon-ebs" "s{i}" {{
  region        = "us-east-1"
  source_ami    = "ami-760aaa0f"
  instance_type = "t3.micro"
  ssh_username  = "ec2-user"
  ami_name      = "${{local.name}}-${{local.l{i}}}"
  ami_regions   = ["us-west-2", "eu-west-1"]
  tags          = merge(local.tags, {{ Index = "{i}", Name = local.l{(i + 3) % 40} }})
  launch_block_device_mappings {{
    device_name           = "/dev/xvda"
    volume_size           = {8 + i}
    volume_type           = "gp2"
    delete_on_termination = true
  }}
}}
''')
    refs = ", ".join(f'"source.amazon-ebs.s{i}"' for i in range(16))
    out.append(f'build {{\n  sources = [{refs}]\n  provisioner "shell" {{\n    inline = ["echo ${{local.l1}}"]\n  }}\n}}\n')
    with open(path, "w") as f:
        f.write("".join(out))


def tree_rss_kb(pid):
    """The resident memory of a process and all its descendants (Packer runs plugins as
    child processes), in KiB."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def measure(cmd, env, cwd, sample=True):
    """Runs a command; returns (exit code, wall seconds, peak tree RSS in MiB, output). Without
    `sample` nothing else runs meanwhile (the RSS sampler costs milliseconds, which would blur
    a validate that takes a few)."""
    out = tempfile.TemporaryFile()
    if not sample:
        start = time.monotonic()
        code = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
        wall = time.monotonic() - start
        out.seek(0)
        return code, wall, 0.0, out.read().decode("utf-8", "replace")
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_kb(p.pid))
            stop.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    code = p.wait()
    wall = time.monotonic() - start
    stop.set()
    t.join()
    out.seek(0)
    return code, wall, peak / 1024, out.read().decode("utf-8", "replace")


def tool_cmd(tool, binary, verb, template):
    if tool == "ambake":
        return [binary, verb, "-var", f"tool={tool}", template] if verb == "build" else [binary, verb, template]
    return ["packer", verb, "-var", f"tool={tool}", template] if verb == "build" else ["packer", verb, template]


def env_for(state_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # ambake keeps its journals and how long its waits took here: a fresh directory per
    # section, so a "first build" has no history.
    env["AMBAKE_STATE_DIR"] = state_dir
    env.update(AWS_EC2_METADATA_DISABLED="true", PACKER_LOG="", CHECKPOINT_DISABLE="1",
               AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, NO_COLOR="1")
    return env


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    return f"{min(xs):.3g}–{max(xs):.3g}" if xs else "-"


def by_action(lines):
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            counts[parts[1]] = counts.get(parts[1], 0) + 1
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build-runs", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "ambake"))
    # Not multiples of 15 s: Packer polls every 15 s, and changes that happen to land on its
    # polls would flatter it (AWS durations land anywhere).
    ap.add_argument("--slow", default="12:33:47", help="RUN:IMAGE:COPY seconds")
    ap.add_argument("--skip-slow", action="store_true")
    ap.add_argument("--skip-parallel", action="store_true")
    ap.add_argument("--parallel-slow", default="12:33:47",
                    help="RUN:IMAGE:COPY seconds of the 16 × 3 run against slow AWS ('' to skip)")
    a = ap.parse_args()
    large_runs = max(a.runs, 10)
    small_runs = large_runs * SMALL_ROUNDS
    if os.geteuid() != 0:
        sys.exit("bench/compare.py: run as root (it starts a private sshd)")
    for need in (a.binary, PY, "/usr/bin/packer"):
        if not os.path.exists(need):
            sys.exit(f"missing {need}: run bench/run, which installs and builds what is needed")
    work = tempfile.mkdtemp(prefix="ambake-bench-")
    os.chmod(work, 0o755)  # sshd reads authorized_keys as ec2-user
    sshd, ssh_port, key, pub = start_sshd(work)
    env = env_for(os.path.join(work, "state-instant"))
    rows, goals = [], []
    parallel_slow = None
    tools = ("ambake", "packer")

    def row(name, unit, res, lower_is_better=True):
        am, pk = med(res["ambake"]), med(res["packer"])
        rows.append((name, unit, am, spread(res["ambake"]), pk, spread(res["packer"]), am / pk if pk else float("nan")))
        return am, pk

    try:
        # validate: small and large.
        small = os.path.join(REPO, "tests/fixtures/valid_minimal.pkr.hcl")
        large = os.path.join(work, "large.pkr.hcl")
        large_template(large)
        for name, t in (("validate, small template", small), ("validate, 16 sources / 40 vars / 40 locals", large)):
            res = {k: [] for k in tools}
            for tool in tools:
                code, _, _, out = measure(tool_cmd(tool, a.binary, "validate", t), env, work, sample=False)
                if code != 0:
                    sys.exit(f"{tool} validate {t} failed:\n{out}")
            if shutil.which("hyperfine"):
                # A few milliseconds: hyperfine times them without Python's spawn cost.
                runs, rounds = (small_runs, SMALL_ROUNDS) if t == small else (large_runs, 1)
                for _ in range(rounds):
                    for tool in tools:
                        js = os.path.join(work, f"hf-{tool}.json")
                        subprocess.run(["hyperfine", "-N", "--warmup", "3", "-r", str(runs // rounds), "--export-json", js,
                                        " ".join(tool_cmd(tool, a.binary, "validate", t))],
                                       env=env, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        res[tool] += json.load(open(js))["results"][0]["times"]
            else:
                for _ in range(a.runs):
                    for tool in tools:
                        _, wall, _, _ = measure(tool_cmd(tool, a.binary, "validate", t), env, work, sample=False)
                        res[tool].append(wall)
            am, pk = row(name, "s", res)
            goals.append((f"{name}: ≥ 20× faster than Packer", pk / am >= 20, f"{pk / am:.1f}×"))

        # build against instant moto.
        stack = Stack(work)
        import_key(stack.endpoint, pub)
        res = {k: [] for k in tools}
        rss = {k: [] for k in tools}
        busy = {k: [] for k in tools}
        own = {k: [] for k in tools}
        calls = {}
        for i in range(a.build_runs):
            for tool in tools:
                t = os.path.join(work, f"build-{tool}-{i}.pkr.hcl")
                build_template(t, stack.endpoint, ssh_port, key, f"{tool}{i}")
                before = len(stack.calls())
                started = time.monotonic()
                code, wall, peak, out = measure(tool_cmd(tool, a.binary, "build", t), env, work)
                if code != 0:
                    sys.exit(f"{tool} build failed:\n{out}")
                res[tool].append(wall)
                rss[tool].append(peak)
                answering = stack.busy_seconds(before, started, started + wall)
                busy[tool].append(answering)
                own[tool].append(wall - answering)
                calls[tool] = by_action(stack.calls()[before:])
        am, pk = row("build, instant moto (SSH, shell, copy, share, tags)", "s", res)
        # Where the time goes: the emulator answering (at least one call in flight, as the
        # proxy saw it), and the rest — the tool itself, SSH and the provisioner, start-up.
        row("  of which AWS answering (moto + proxy)", "s", busy)
        am_own, pk_own = row("  of which outside AWS calls (tool, SSH, start-up)", "s", own)
        row("  peak RSS, one build (process tree)", "MiB", rss)
        n_am, n_pk = sum(calls["ambake"].values()), sum(calls["packer"].values())
        rows.append(("  AWS calls, one build", "calls", n_am, "", n_pk, "", n_am / n_pk))
        goals.append(("build: ≤ 0.35× Packer's wall time", am / pk <= 0.35,
                      f"{am / pk:.2f}× (outside AWS calls: {am_own / pk_own:.2f}×)"))
        goals.append(("build: ≤ 20 AWS calls", n_am <= 20, f"{n_am} (Packer {n_pk})"))
        call_table = calls
        one_build = am

        # 16 sources × 3 regions in one run.
        if not a.skip_parallel:
            res = {k: [] for k in tools}
            rss = {k: [] for k in tools}
            pcalls = {}
            for tool in tools:
                t = os.path.join(work, f"par-{tool}.pkr.hcl")
                build_template(t, stack.endpoint, ssh_port, key, f"par{tool}", sources=16, regions=(COPY, THIRD))
                before = len(stack.calls())
                code, wall, peak, out = measure(tool_cmd(tool, a.binary, "build", t), env, work)
                if code != 0:
                    sys.exit(f"{tool} parallel build failed:\n{out[-4000:]}")
                res[tool].append(wall)
                rss[tool].append(peak)
                pcalls[tool] = sum(by_action(stack.calls()[before:]).values())
            am_p, pk_p = row("build, 16 sources × 3 regions", "s", res)
            # The emulator answers one call at a time (moto is one Python process): its rate
            # bounds the parallel run, whatever the tool.
            rows.append(("  AWS calls per second sustained", "calls/s", pcalls["ambake"] / am_p, "",
                         pcalls["packer"] / pk_p, "", (pcalls["ambake"] / am_p) / (pcalls["packer"] / pk_p)))
            ram, rpk = row("  peak RSS, 16 × 3 (process tree)", "MiB", rss)
            rows.append(("  AWS calls, 16 × 3", "calls", pcalls["ambake"], "", pcalls["packer"], "", pcalls["ambake"] / pcalls["packer"]))
            goals.append(("16 × 3, instant moto: wall ≤ 1.5× one build", am_p <= 1.5 * one_build, f"{am_p / one_build:.2f}× one build (the emulator answers {pcalls['ambake'] / am_p:.0f} calls/s)"))
            goals.append(("16 × 3: peak RSS ≤ ½ Packer's", ram <= rpk / 2, f"{ram / rpk:.2f}×"))
        stack.stop()

        # 16 sources × 3 regions against slow AWS: what parallel builds cost when AWS, not the
        # emulator's answer rate, sets the pace (each build waits for the same state changes).
        if not a.skip_parallel and a.parallel_slow:
            res = {k: [] for k in tools}
            for tool in tools:
                stack = Stack(work, slow=a.parallel_slow)
                import_key(stack.endpoint, pub)
                t = os.path.join(work, f"parslow-{tool}.pkr.hcl")
                build_template(t, stack.endpoint, ssh_port, key, f"parslow{tool}", sources=16, regions=(COPY, THIRD))
                penv = env_for(os.path.join(work, f"state-parslow-{tool}"))
                code, wall, peak, out = measure(tool_cmd(tool, a.binary, "build", t), penv, work)
                if code != 0:
                    sys.exit(f"{tool} slow parallel build failed:\n{out[-4000:]}")
                res[tool].append(wall)
                stack.stop()
                parallel_slow = res

        # Slow AWS: state changes take real seconds. ambake builds twice: the first time with no
        # history, the second as a repeated build of the same template (it knows how long its
        # waits took, see src/job/wait_times.rs). Packer has no such memory: one run.
        slow_rows = []
        if not a.skip_slow:
            slow_env = env_for(os.path.join(work, "state-slow"))
            for tool, label in (("ambake", "ambake"), ("ambake", "ambake-repeat"), ("packer", "packer")):
                stack = Stack(work, slow=a.slow)
                import_key(stack.endpoint, pub)
                t = os.path.join(work, f"slow-{label}.pkr.hcl")
                build_template(t, stack.endpoint, ssh_port, key, f"slow{label}")
                code, wall, _, out = measure(tool_cmd(tool, a.binary, "build", t), slow_env, work)
                if code != 0:
                    sys.exit(f"{label} slow build failed:\n{out[-4000:]}")
                late = {}
                for line in stack.slow_log():
                    kind, _, sec = line.split()
                    late.setdefault(kind, []).append(float(sec))
                c = by_action(stack.calls())
                waits = c.get("DescribeInstances", 0) + c.get("DescribeImages", 0) + c.get("DescribeSnapshots", 0)
                slow_rows.append((label, wall, late, waits))
                stack.stop()
            durations = dict(zip(("instance", "image", "copy"), (float(x) for x in a.slow.split(":"))))
            by_tool = {t: (w, l, n) for t, w, l, n in slow_rows}
            pk = by_tool["packer"]
            for label, title in (("ambake", "first build"), ("ambake-repeat", "repeated build")):
                am = by_tool[label]
                rows.append((f"build, slow AWS ({a.slow} s), {title}", "s", am[0], "", pk[0], "", am[0] / pk[0]))
                ok_all = True
                for kind in sorted(set(am[1]) | set(pk[1])):
                    am_l, pk_l = med(am[1].get(kind, [])), med(pk[1].get(kind, []))
                    rows.append((f"  noticed {kind} after", "s late", am_l, "", pk_l, "", am_l / pk_l if pk_l else float("nan")))
                    base = durations["copy" if kind.startswith("copy") else "image" if kind.startswith("image") else "instance"]
                    if kind in am[1]:
                        # (a change ambake does not wait for — termination — has no row of its own)
                        ok_all &= am_l <= 0.2 * base + 1
                rows.append(("  Describe* calls spent waiting", "calls", am[2], "", pk[2], "", am[2] / pk[2]))
                goals.append((f"slow AWS, {title}: each change noticed within 20 % of its duration + 1 s", ok_all, "see 'noticed' rows"))
                goals.append((f"slow AWS, {title}: no more wait calls than Packer", am[2] <= pk[2],
                              f"{am[2]} vs {pk[2]}"))
            if parallel_slow:
                am_p, pk_p = row(f"build, 16 sources × 3 regions, slow AWS ({a.parallel_slow} s)", "s", parallel_slow)
                one = by_tool["ambake"][0]
                goals.append(("16 × 3, slow AWS: wall ≤ 1.5× one build (first build, slow AWS)", am_p <= 1.5 * one,
                              f"{am_p / one:.2f}× one build (Packer {pk_p / pk[0]:.2f}×)"))
    finally:
        sshd.terminate()

    print(f"\nambake {a.binary} vs {subprocess.run(['packer', 'version'], capture_output=True, text=True).stdout.strip()}, "
          f"{small_runs} validate runs of the small template ({SMALL_ROUNDS} alternated rounds), {large_runs} of the large, "
          f"{a.build_runs} build runs each, alternated; medians, spreads min–max\n")
    print("| measure | unit | ambake | spread | Packer | spread | ambake / Packer |")
    print("|---|---|---:|---|---:|---|---:|")
    for name, unit, am, sa, pk, sp, r in rows:
        print(f"| {name} | {unit} | {am:.3g} | {sa} | {pk:.3g} | {sp} | {r:.2f} |")
    print("\nAWS calls of one build, by action (instant moto):\n")
    print("| action | ambake | Packer |")
    print("|---|---:|---:|")
    for act in sorted(set(call_table["ambake"]) | set(call_table["packer"])):
        print(f"| {act} | {call_table['ambake'].get(act, 0)} | {call_table['packer'].get(act, 0)} |")
    print("\nGoals (issue #14):\n")
    for g, ok, detail in goals:
        print(f"- [{'x' if ok else ' '}] {g}: {detail}")


if __name__ == "__main__":
    main()
