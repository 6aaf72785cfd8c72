"""Runs a command on a pseudo-terminal, as a person at a terminal would: when PROMPT appears
in its output, types ANSWER and Enter. Copies everything the command prints to stdout and exits
with its exit code.

Usage: answer_prompt.py PROMPT ANSWER -- COMMAND [ARGS...]

The answer is typed only after the prompt shows, and a moment later: a program that turns
echo off flushes the terminal's input (TCSAFLUSH), so an answer typed ahead would be lost.
"""

import os
import pty
import select
import sys
import time


def main():
    prompt, answer = sys.argv[1].encode(), sys.argv[2].encode()
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            os.kill(pid, 9)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        seen += chunk
        if not answered and prompt in seen:
            answered = True
            # Let the program turn echo off (and flush) before the answer arrives.
            time.sleep(0.5)
            os.write(fd, answer + b"\r")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
