#!/usr/bin/env python3
"""Where one build's time goes: runs ambake builds against the benchmark's stack (moto behind
tests/support/aws_proxy.py, a loopback sshd, the same template as bench/compare.py) and prints
each build's wall time, AWS calls (and how much of the time at least one was being answered)
and `--json` step durations.

Usage (as root, like bench/run): bench/steps.py BINARY [RUNS]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = tempfile.mkdtemp(prefix="ambake-steps-")
    os.chmod(work, 0o755)  # sshd reads authorized_keys as ec2-user
    sshd, ssh_port, key, pub = C.start_sshd(work)
    stack = C.Stack(work)
    try:
        C.import_key(stack.endpoint, pub)
        env = C.env_for(os.path.join(work, "state"))
        for i in range(runs):
            t = os.path.join(work, f"b{i}.pkr.hcl")
            C.build_template(t, stack.endpoint, ssh_port, key, f"steps{i}")
            before = len(stack.calls())
            start = time.monotonic()
            p = subprocess.run([binary, "build", "--json", "-var", "tool=ambake", t],
                               env=env, cwd=work, capture_output=True, text=True)
            wall = time.monotonic() - start
            steps = []
            for line in p.stdout.splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("type") == "step_finished" and e["duration_ms"]:
                    steps.append(f'{e["step"]}={e["duration_ms"]}')
            busy = stack.busy_seconds(before, start, start + wall)
            print(f"run {i}: exit {p.returncode}, {wall * 1000:.0f} ms, {len(stack.calls()) - before} calls, "
                  f"{busy * 1000:.0f} ms of it AWS answering, {(wall - busy) * 1000:.0f} ms outside AWS calls")
            print("   ", ", ".join(steps), "(ms)")
            if p.returncode:
                print(p.stdout[-2000:], p.stderr[-2000:])
    finally:
        stack.stop()
        sshd.terminate()


if __name__ == "__main__":
    main()
